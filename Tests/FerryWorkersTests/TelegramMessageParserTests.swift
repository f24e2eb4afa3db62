import FerryCore
import Foundation
import Testing

@testable import FerryWorkers

/// What a Bot API update carries, as the telegram worker reads it.
@Suite("Telegram messages")
struct TelegramMessageParserTests {
    static func parse(_ json: String) throws -> TelegramUpdate {
        TelegramMessageParser.parse(try BotAPI.decoder.decode(BotAPI.Update.self, from: Data(json.utf8)))
    }

    @Test("A photo is its largest size; an animation that also arrives as a document is one item")
    func media() throws {
        let photo = try Self.parse(
            """
            {"update_id": 3, "message": {"message_id": 9, "chat": {"id": -100}, "caption": "/force again",
             "photo": [{"file_id": "s", "file_unique_id": "us", "width": 90, "height": 90, "file_size": 10},
                       {"file_id": "l", "file_unique_id": "ul", "width": 1280, "height": 960, "file_size": 99},
                       {"file_id": "m", "file_unique_id": "um", "width": 320, "height": 240, "file_size": 50}]}}
            """)
        #expect(photo.items.map(\.fileID) == ["l"])
        #expect(photo.items.first?.kind == .photo)
        #expect(photo.chatID == -100 && photo.messageID == 9 && photo.forced)
        let animation = try Self.parse(
            """
            {"update_id": 4, "message": {"message_id": 1, "chat": {"id": 1},
             "animation": {"file_id": "a", "file_unique_id": "ua", "file_name": "cat.mp4", "mime_type": "video/mp4"},
             "document": {"file_id": "a", "file_unique_id": "ua", "file_name": "cat.mp4", "mime_type": "video/mp4"}}}
            """)
        #expect(animation.items.count == 1)
        #expect(animation.items.first?.fileName == "cat.mp4")
        #expect(!animation.forced)
    }

    @Test("Every http(s) link of a text is one item, in order and once; other updates carry nothing")
    func links() throws {
        let text = try Self.parse(
            """
            {"update_id": 5, "message": {"message_id": 2, "chat": {"id": 1},
             "text": "see https://a.test/1.mp4 and http://b.test/2 or ftp://c.test/3, https://a.test/1.mp4 and this",
             "entities": [{"type": "text_link", "offset": 90, "length": 4, "url": "https://d.test/4"}]}}
            """)
        #expect(text.items.map(\.url) == ["https://a.test/1.mp4", "http://b.test/2", "https://d.test/4"])
        #expect(text.items.allSatisfy { $0.kind == .link })
        let edit = try Self.parse(#"{"update_id": 6, "edited_message": {"message_id": 2, "chat": {"id": 1}}}"#)
        #expect(edit.items.isEmpty && edit.chatID == nil)
    }
}
