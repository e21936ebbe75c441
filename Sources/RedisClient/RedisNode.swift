import NIOCore
import Synchronization

/// The connections to one Redis node, spread over event loops.
///
/// A caller running on one of those event loops (PaymentAPI's channel handler serving a
/// payment on its socket's loop) gets a connection of its own loop, so the command is
/// written and its reply handled without leaving the thread. Other callers, and several
/// connections of one loop, go round-robin.
final class RedisNode: Sendable {
    let url: RedisURL
    private let slots: [RedisConnectionSlot]
    /// The slots of each loop, in the order of `slots`: a handful of loops, searched
    /// linearly (`inEventLoop` is a thread comparison).
    private let slotsByLoop: [(loop: any EventLoop, slots: [RedisConnectionSlot])]
    private let nextSlot = Atomic<Int>(0)

    init(url: RedisURL, loops: [any EventLoop], settings: RedisConnectionSlot.Settings) {
        self.url = url
        var settings = settings
        settings.url = url
        let slots = loops.map { RedisConnectionSlot(eventLoop: $0, settings: settings) }
        self.slots = slots
        var byLoop: [(loop: any EventLoop, slots: [RedisConnectionSlot])] = []
        for slot in slots {
            if let index = byLoop.firstIndex(where: { $0.loop === slot.eventLoop }) {
                byLoop[index].slots.append(slot)
            } else {
                byLoop.append((slot.eventLoop, [slot]))
            }
        }
        self.slotsByLoop = byLoop
    }

    private var slot: RedisConnectionSlot {
        let turn = nextSlot.wrappingAdd(1, ordering: .relaxed).oldValue
        for local in slotsByLoop where local.loop.inEventLoop {
            return local.slots[turn % local.slots.count]
        }
        return slots[turn % slots.count]
    }

    /// The raw reply: an error reply is a value here, the client decides what it means.
    /// The future completes on the connection's loop: the caller's own, when it runs on
    /// one of this node's loops.
    func submit(_ command: RedisCommand) -> EventLoopFuture<RESPValue> {
        slot.send(command)
    }

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
