import FerryCore
import FerryPostgres
import FerryTesting
import Foundation
import Testing

@testable import FerryWorkers

/// Telegram's flood control as Ferry keeps it: the turns themselves, and their sharing between
/// processes through the state folder.
@Suite("Telegram send pacing")
struct TelegramSendPacerTests {
    @Test("A chat's turn comes a second after the last (a group's three), a bot's 34 ms; a hold pushes the chat's")
    func turns() {
        var turns = TelegramSendTurns()
        #expect(turns.take(bot: "a", chat: 7, now: 10_000) == nil, "due: taken")
        #expect(turns.take(bot: "a", chat: 7, now: 10_500) == 11_000, "one a second to a chat")
        #expect(turns.take(bot: "a", chat: 8, now: 10_010) == 10_034, "thirty a second per bot")
        #expect(turns.take(bot: "a", chat: 8, now: 10_034) == nil)
        #expect(turns.take(bot: "b", chat: 7, now: 10_500) == nil, "another bot has limits of its own")
        #expect(turns.take(bot: "a", chat: 7, now: 11_000) == nil)
        #expect(turns.take(bot: "a", chat: -100, now: 20_000) == nil)
        #expect(turns.take(bot: "a", chat: -100, now: 22_000) == 23_000, "twenty a minute to a group")
        turns.hold(bot: "a", chat: 7, until: 40_000, now: 20_000)
        #expect(turns.take(bot: "a", chat: 7, now: 39_999) == 40_000, "nothing before retry_after has passed")
        turns.hold(bot: "a", chat: 7, until: 30_000, now: 20_000)
        #expect(turns.take(bot: "a", chat: 7, now: 35_000) == 40_000, "a shorter hold does not shorten a longer one")
        #expect(turns.take(bot: "a", chat: 7, now: 40_000) == nil)
    }

    @Test("The turns survive their text; past ones are dropped and one far ahead (a clock set back) is ignored")
    func text() {
        var turns = TelegramSendTurns()
        _ = turns.take(bot: "a", chat: 7, now: 100_000)
        _ = turns.take(bot: "a", chat: -5, now: 100_100)
        let reread = TelegramSendTurns(text: turns.text(now: 100_100) + "garbage line\nb/1 x\n")
        #expect(reread == turns)
        #expect(TelegramSendTurns(text: turns.text(now: 200_000)) == TelegramSendTurns())
        var jumped = TelegramSendTurns(text: "a/7 \(100_000 + TelegramSendTurns.furthestTurn + 1)\n")
        #expect(jumped.take(bot: "a", chat: 7, now: 100_000) == nil)
    }

    @Test(
        "Two pacers on one state folder (as two processes) share turns and holds; without the folder each paces alone"
    )
    func sharedBetweenProcesses() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-pacer-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = TelegramSendPacer(stateDirectory: folder)
        let second = TelegramSendPacer(stateDirectory: folder)
        #expect(await first.tryTurn(bot: "relay", chat: 42) == nil)
        let next = try #require(await second.tryTurn(bot: "relay", chat: 42), "the other process's turn was taken")
        #expect(next > .milliseconds(900))
        #expect(FileManager.default.fileExists(atPath: "\(folder)/telegram/send-turns"))
        await second.hold(bot: "relay", chat: 9, for: .seconds(30))
        let held = try #require(await first.tryTurn(bot: "relay", chat: 9))
        #expect(held >= .seconds(29), "a 429 one process met holds the chat for the other")

        let alone = TelegramSendPacer(stateDirectory: nil)
        let other = TelegramSendPacer(stateDirectory: nil)
        #expect(await alone.tryTurn(bot: "relay", chat: 42) == nil)
        #expect(await other.tryTurn(bot: "relay", chat: 42) == nil)
        #expect(await alone.tryTurn(bot: "relay", chat: 42) != nil)
    }

    @Test(
        "On a shared queue two nodes' pacers (their own state folders) share turns and holds through the database; a 429 holds the chat everywhere"
    )
    func sharedBetweenNodes() async throws {
        let url = try await PostgresTestServer.shared().makeDatabase()
        let migrating = try await PostgresJobStore.open(try PostgresStoreConfiguration(url: url))
        try await migrating.migrate()
        migrating.close()
        let access = PostgresAccess(url: url, passwordFile: nil, node: "test.1", lease: .seconds(15))
        var pacers: [TelegramSendPacer] = []
        for _ in 0..<2 {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-pacer-\(UUID())").path
            pacers.append(TelegramSendPacer(stateDirectory: folder, shared: access))
        }
        // Each opens its connection first, so that the turns below follow each other closely. On
        // a loaded machine a first connection can take longer than the pacer's 5 s timeout (the
        // pacer then uses its file and tries the database again after 1 s, 2 s, …): wait for it.
        for (index, pacer) in pacers.enumerated() {
            let deadline = ContinuousClock.now + .seconds(90)
            var warm = 0
            while true {
                warm += 1
                #expect(await pacer.tryTurn(bot: "warm-\(index)-\(warm)", chat: 1) == nil)
                if await pacer.lastTurnWasShared { break }
                try #require(ContinuousClock.now < deadline, "pacer \(index) never reached the database")
                try await Task.sleep(for: .milliseconds(500))
            }
        }
        // A group's turns are three seconds apart, whichever node takes them. A pair of turns
        // taken further apart than that (a stalled machine) proves nothing: another chat is tried.
        var pairs = 0
        while true {
            pairs += 1
            let chat = Int64(-100 - pairs)
            let first = ContinuousClock.now
            #expect(await pacers[0].tryTurn(bot: "relay", chat: chat) == nil)
            let next = await pacers[1].tryTurn(bot: "relay", chat: chat)
            let apart = ContinuousClock.now - first
            let shared = (await pacers[0].lastTurnWasShared, await pacers[1].lastTurnWasShared)
            #expect(shared == (true, true), "a turn was not taken in the database")
            if apart >= .seconds(2), pairs < 5 { continue }
            let wait = try #require(next, "the other node's turn was taken (\(apart) after the first)")
            #expect(wait <= .seconds(3))
            break
        }
        await pacers[1].hold(bot: "relay", chat: 9, for: .seconds(30))
        let held = try #require(await pacers[0].tryTurn(bot: "relay", chat: 9))
        #expect(held >= .seconds(20), "a 429 one node met holds the chat for the other")
        for pacer in pacers { await pacer.shutdown() }
    }

    @Test("A database that cannot be reached leaves the pacing to the state folder's file")
    func unreachableDatabaseFallsBackToTheFile() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-pacer-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A loopback port nothing listens on.
        let access = PostgresAccess(
            url: "postgres://ferry@127.0.0.1:9/ferry", passwordFile: nil, node: "test.1", lease: .seconds(15))
        let first = TelegramSendPacer(stateDirectory: folder, shared: access)
        let second = TelegramSendPacer(stateDirectory: folder, shared: access)
        #expect(await first.tryTurn(bot: "relay", chat: 42) == nil)
        await first.hold(bot: "relay", chat: 9, for: .seconds(30))
        // The second pacer first tries the database itself, for up to its 5 s connect timeout.
        let held = try #require(await second.tryTurn(bot: "relay", chat: 9), "the file shares the turns on this node")
        #expect(held >= .seconds(20))
        #expect(FileManager.default.fileExists(atPath: "\(folder)/telegram/send-turns"))
    }

    @Test("After failures in a row the database is tried again after 1 s, 2 s, 4 s, … and at most every 30 s")
    func databaseRetryBacksOff() {
        let pauses = (1...8).map { TelegramSendPacer.sharedRetryPause(afterFailures: $0) }
        #expect(pauses == [1, 2, 4, 8, 16, 30, 30, 30].map { Duration.seconds($0) })
    }
}
