import FerryCore
public import Logging

/// Wraps the process's log handler so that no record carries the credentials a URL may hold:
/// the message and every metadata value go through ``SecretRedaction/text(_:)`` before the
/// wrapped handler (the terminal, or the journal) sees them. Records quote URLs and errors that
/// quote URLs; redacting here covers every call site, present and future.
public struct RedactingLogHandler: LogHandler {
    private var wrapped: any LogHandler

    public init(wrapping wrapped: any LogHandler) {
        self.wrapped = wrapped
    }

    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { wrapped.metadataProvider }
        set { wrapped.metadataProvider = newValue }
    }

    public var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue.mapValues(Self.redact) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue.map(Self.redact) }
    }

    public func log(event: LogEvent) {
        var event = event
        event.message = "\(SecretRedaction.text(event.message.description))"
        event.metadata = event.metadata?.mapValues(Self.redact)
        wrapped.log(event: event)
    }

    static func redact(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): .string(SecretRedaction.text(text))
        case .stringConvertible(let convertible): .string(SecretRedaction.text(convertible.description))
        case .array(let values): .array(values.map(redact))
        case .dictionary(let values): .dictionary(values.mapValues(redact))
        }
    }
}
