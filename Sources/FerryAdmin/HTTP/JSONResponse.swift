import Foundation
import Hummingbird
import NIOCore

/// How the API writes JSON: snake_case keys, ISO 8601 times with milliseconds, sorted keys so
/// answers are stable to read and to diff.
enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try encoder.encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static let encoder: JSONEncoder = makeEncoder(snakeCase: true)
    /// For documents whose format fixes camelCase keys (the health-check draft).
    static let camelCaseEncoder: JSONEncoder = makeEncoder(snakeCase: false)

    private static func makeEncoder(snakeCase: Bool) -> JSONEncoder {
        let encoder = JSONEncoder()
        if snakeCase { encoder.keyEncodingStrategy = .convertToSnakeCase }
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date))
        }
        return encoder
    }

    /// Reads a JSON body into `type`, with errors that say which field is wrong.
    ///
    /// - Parameter snakeCaseKeys: map `file_name` to `fileName`; off for types whose nested free-form
    ///   objects must keep their keys as sent (they spell their own coding keys).
    static func decode<T: APIBody>(
        _ type: T.Type, from request: Request, context: AdminContext, snakeCaseKeys: Bool = true
    ) async throws -> T {
        var request = request
        let buffer: ByteBuffer
        let limit = T.bodyLimit ?? context.maxUploadSize
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "body_too_large", "the request body is over \(limit) bytes")
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, "body_too_large", "the request body is over \(limit) bytes")
        }
        guard buffer.readableBytes > 0 else {
            throw APIError.badRequest("invalid_json", "the request needs a JSON object as its body")
        }
        // A misspelt field would otherwise be ignored silently and the request run without it.
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any] else {
            throw APIError.badRequest("invalid_json", "the body must be a JSON object")
        }
        if let unknown = object.keys.sorted().first(where: { !T.fields.contains($0) }) {
            throw APIError.badRequest(
                "unknown_field",
                "the field \(unknown) is not known here; use \(T.fields.sorted().joined(separator: ", "))")
        }
        try T.checkNestedFields(object)
        let decoder = JSONDecoder()
        if snakeCaseKeys { decoder.keyDecodingStrategy = .convertFromSnakeCase }
        do {
            return try decoder.decode(T.self, from: Data(buffer: buffer))
        } catch let DecodingError.keyNotFound(key, _) {
            throw APIError.badRequest("missing_field", "the field \(key.stringValue.snakeCased) is required")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let field = context.codingPath.map(\.stringValue.snakeCased).joined(separator: ".")
            throw APIError.badRequest(
                "invalid_field",
                "the field \(field.isEmpty ? "(body)" : field) has the wrong type: \(context.debugDescription)")
        } catch {
            throw APIError.badRequest("invalid_json", "the body is not valid JSON")
        }
    }
}

/// A request body: decoded strictly, with every field it accepts named.
protocol APIBody: Decodable {
    /// The JSON field names the body may carry.
    static var fields: Set<String> { get }
    /// The largest body this kind of request may send (nil: the context's limit).
    static var bodyLimit: Int? { get }
    /// Refuses unknown fields in nested objects (the top level is checked against `fields`).
    static func checkNestedFields(_ object: [String: Any]) throws(APIError)
}

extension APIBody {
    static var bodyLimit: Int? { nil }
    static func checkNestedFields(_ object: [String: Any]) throws(APIError) {}
}

extension String {
    /// `fileName` → `file_name`, as the API spells its fields.
    var snakeCased: String {
        var result = ""
        for character in self {
            if character.isUppercase {
                result += "_" + character.lowercased()
            } else {
                result.append(character)
            }
        }
        return result
    }
}
