import AsyncHTTPClient
import FerryCore
import Foundation
import NIOCore

/// A `multipart/form-data` body whose file part is read from disk while it is sent, so a 2 GB
/// upload through a local Bot API server never sits in memory.
struct MultipartFileBody {
    let boundary = "ferry-\(UUID().uuidString)"
    var fields: [(name: String, value: String)]
    var fileField: String
    var fileName: String
    var path: String
    var size: Int64
    /// Small files sent from memory before the file, each as a part of its own (a video's thumbnail).
    var attachments: [Attachment] = []

    struct Attachment {
        var field: String
        var fileName: String
        var contentType: String
        var bytes: [UInt8]
    }

    var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    private var head: ByteBuffer {
        var buffer = ByteBuffer()
        for (name, value) in fields {
            buffer.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n")
        }
        for attachment in attachments {
            buffer.writeString(partHead(attachment.field, attachment.fileName, attachment.contentType))
            buffer.writeBytes(attachment.bytes)
            buffer.writeString("\r\n")
        }
        buffer.writeString(partHead(fileField, fileName, "application/octet-stream"))
        return buffer
    }

    private func partHead(_ field: String, _ name: String, _ contentType: String) -> String {
        let quoted = String(name.unicodeScalars.filter { $0 != "\"" && $0 != "\r" && $0 != "\n" })
        return "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(field)\"; filename=\"\(quoted)\"\r\n"
            + "Content-Type: \(contentType)\r\n\r\n"
    }

    private var tail: String { "\r\n--\(boundary)--\r\n" }

    /// A fresh body (each request needs its own: the file is read as it goes).
    func body() -> HTTPClientRequest.Body {
        let head = head
        let tail = ByteBuffer(string: tail)
        let chunks = FileChunks(path: path, size: size, head: head, tail: tail)
        let stream = AsyncThrowingStream<ByteBuffer, any Error>(unfolding: { try await chunks.next() })
        return .stream(stream, length: .known(Int64(head.readableBytes + tail.readableBytes) + size))
    }
}

/// The head, the file in chunks, then the tail, one piece per call.
private actor FileChunks {
    static let chunk = 1 << 20
    let path: String
    let size: Int64
    private var pieces: [ByteBuffer]
    private var descriptor: Int32 = -1
    private var sent: Int64 = 0
    private var fileDone = false

    init(path: String, size: Int64, head: ByteBuffer, tail: ByteBuffer) {
        self.path = path
        self.size = size
        pieces = [tail, head]
    }

    func next() throws -> ByteBuffer? {
        if pieces.count == 2 { return pieces.removeLast() }
        if !fileDone, let piece = try readChunk() { return piece }
        fileDone = true
        return pieces.popLast()
    }

    /// The next chunk of the file; nil at its end, which must be exactly its announced size.
    private func readChunk() throws -> ByteBuffer? {
        if descriptor < 0 {
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw SpoolFile.failure("open", path) }
        }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(Self.chunk)
        let count = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.chunk) { bytes in
            var count: Int
            repeat { count = read(descriptor, bytes.baseAddress, Self.chunk) } while count < 0 && errno == EINTR
            return max(count, 0)
        }
        sent += Int64(count)
        guard sent <= size, count > 0 || sent == size else {
            throw JobFailure.retryable("source_changed", "\(path) is not \(size) bytes any more")
        }
        return count > 0 ? buffer : nil
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }
}
