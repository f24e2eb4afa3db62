import FerryCore
import Testing

@Suite("Secret redaction")
struct SecretRedactionTests {
    @Test(
        "Credentials in URLs are replaced; everything else is kept as it was",
        arguments: [
            ("https://user:pw@example.com/a/b?x=1", "https://REDACTED@example.com/a/b?x=1"),
            (
                "https://example.com/f.mp4?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIA%2F&X-Amz-Signature=abc123",
                "https://example.com/f.mp4?X-Amz-Algorithm=AWS4&X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED"
            ),
            (
                "https://api.telegram.org/file/bot123456:AAE-secret/videos/file_1.mp4",
                "https://api.telegram.org/file/botREDACTED/videos/file_1.mp4"
            ),
            (
                "https://cdn.example/v.mp4?Expires=1&Signature=s&Key-Pair-Id=K",
                "https://cdn.example/v.mp4?Expires=1&Signature=REDACTED&Key-Pair-Id=K"
            ),
            (
                "https://blob.example/c/v?sv=2020&sig=abc%3D&se=2026",
                "https://blob.example/c/v?sv=2020&sig=REDACTED&se=2026"
            ),
            ("https://app.example/cb#access_token=abc&state=1", "https://app.example/cb#access_token=REDACTED&state=1"),
            ("ftp://anonymous@ftp.example/pub", "ftp://REDACTED@ftp.example/pub"),
            ("http://127.0.0.1:8080/file/100?rate=0&key=a", "http://127.0.0.1:8080/file/100?rate=0&key=a"),
            ("https://example.com", "https://example.com"),
            ("not a url", "not a url"),
        ])
    func redactsURLs(url: String, expected: String) {
        #expect(SecretRedaction.url(url) == expected)
        #expect(SecretRedaction.url(expected) == expected, "redacting twice changes nothing")
    }

    @Test("Every URL quoted in free text is redacted, the text around it kept")
    func redactsText() {
        let message =
            #"GET "https://u:p@h.example/x?token=t1" answered 404; redirected to https://h.example/bot1:T/y, gave up"#
        #expect(
            SecretRedaction.text(message)
                == #"GET "https://REDACTED@h.example/x?token=REDACTED" answered 404; redirected to https://h.example/botREDACTED/y, gave up"#
        )
        #expect(SecretRedaction.text("no links here: a://") == "no links here: a://")
        #expect(SecretRedaction.text("") == "")
    }
}
