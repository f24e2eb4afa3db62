import FerryCore
import Foundation
public import Hummingbird

/// An error the API answers with: an HTTP status, a stable machine code and a message that tells
/// the caller what to do, as `{"error":{"code","message"}}`.
public struct APIError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        // A message may quote the request's URL; what leaves the server never carries its credentials.
        let body = ErrorBody(error: .init(code: code, message: SecretRedaction.text(message)))
        let data = (try? JSONResponse.encoder.encode(body)) ?? Data(#"{"error":{"code":"internal","message":""}}"#.utf8)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    struct ErrorBody: Codable {
        struct Detail: Codable {
            var code: String
            var message: String
        }
        var error: Detail
    }

    // MARK: Common errors

    static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code, message) }

    static func notFound(_ what: String) -> APIError { APIError(.notFound, "not_found", "\(what) does not exist") }

    /// A store failure as the API states it; anything unexpected is a 500 whose details stay in the log.
    static func from(_ error: StoreError) -> APIError {
        switch error.code {
        case .notFound: APIError(.notFound, error.code.rawValue, error.message)
        case .illegalTransition, .conflict, .leaseLost: APIError(.conflict, error.code.rawValue, error.message)
        case .invalidInput: APIError(.unprocessableContent, error.code.rawValue, error.message)
        case .busy, .unavailable, .nodeFenced:
            APIError(
                .serviceUnavailable, error.code.rawValue,
                "the database cannot take this request now (\(error.message)); try again shortly")
        default:
            APIError(.internalServerError, "internal", "the request could not be completed; the daemon's log says why")
        }
    }
}
