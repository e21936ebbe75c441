import NIOCore
import Synchronization

/// The connections to one Redis node, spread over event loops; commands go round-robin.
final class RedisNode: Sendable {
    let url: RedisURL
    private let slots: [RedisConnectionSlot]
    private let nextSlot = Atomic<Int>(0)

    init(url: RedisURL, loops: [any EventLoop], settings: RedisConnectionSlot.Settings) {
        self.url = url
        var settings = settings
        settings.url = url
        self.slots = loops.map { RedisConnectionSlot(eventLoop: $0, settings: settings) }
    }

    private var slot: RedisConnectionSlot {
        slots[nextSlot.wrappingAdd(1, ordering: .relaxed).oldValue % slots.count]
    }

    /// The raw reply: an error reply is a value here, the client decides what it means.
    func send(_ command: RedisCommand) async throws -> RESPValue {
        try await slot.send(command).get()
    }

    /// Commands back to back on one connection; the reply of each.
    func send(_ commands: [RedisCommand]) async throws -> [RESPValue] {
        var replies: [RESPValue] = []
        for future in slot.send(commands) { replies.append(try await future.get()) }
        return replies
    }

    func shutdown() async {
        for slot in slots { try? await slot.shutdown().get() }
    }
}
