import NIOCore

/// The pipelining rules of one connection, with no I/O, so they can be tested alone.
///
/// Commands are written in order and Redis answers in order, so the oldest pending
/// command owns the next reply. Deadlines are taken in send order, so they are
/// non-decreasing along the queue and one timer armed at the head's deadline is enough:
/// when it fires it either finds the head expired or re-arms for the new head.
struct RedisConnectionStateMachine<Waiter> {
    struct Pending {
        var waiter: Waiter
        var deadline: NIODeadline
    }

    enum SendAction {
        /// Write the command. Arm the timer at the deadline when one is given.
        case write(armTimerAt: NIODeadline?)
        /// Do not write; fail the waiter with this error.
        case fail(RedisClientError)
    }

    enum ReceiveAction {
        case complete(Waiter)
        /// Close the connection and fail these waiters.
        case close([Waiter], RedisClientError)
        /// The connection is already closed; drop the reply.
        case ignore
    }

    enum TimerAction {
        case none
        case arm(NIODeadline)
        case close([Waiter], RedisClientError)
    }

    private var pending: CircularBuffer<Pending>
    private var closedWith: RedisClientError?
    private var timerArmed = false
    let maxPending: Int
    let timeoutDescription: String

    init(maxPending: Int, timeoutDescription: String) {
        precondition(maxPending > 0, "maxPending must be positive")
        self.pending = CircularBuffer(initialCapacity: 64)
        self.maxPending = maxPending
        self.timeoutDescription = timeoutDescription
    }

    var pendingCount: Int { pending.count }
    var isClosed: Bool { closedWith != nil }

    mutating func send(_ waiter: Waiter, deadline: NIODeadline) -> SendAction {
        if let closedWith {
            return .fail(closedWith)
        }
        guard pending.count < maxPending else {
            return .fail(RedisClientError(.overload, "\(maxPending) commands already in flight on this connection"))
        }
        pending.append(Pending(waiter: waiter, deadline: deadline))
        if timerArmed {
            return .write(armTimerAt: nil)
        }
        timerArmed = true
        return .write(armTimerAt: deadline)
    }

    mutating func receive() -> ReceiveAction {
        guard closedWith == nil else { return .ignore }
        guard let head = pending.popFirst() else {
            return closeAction(RedisClientError(.protocol, "received a reply with no command waiting for it"))
        }
        return .complete(head.waiter)
    }

    mutating func timerFired(now: NIODeadline) -> TimerAction {
        timerArmed = false
        guard closedWith == nil, let head = pending.first else { return .none }
        if head.deadline <= now {
            let error = RedisClientError(.timeout, "no reply within \(timeoutDescription)")
            guard case .close(let waiters, let error) = closeAction(error) else { return .none }
            return .close(waiters, error)
        }
        timerArmed = true
        return .arm(head.deadline)
    }

    /// Closes the connection's queue: every pending waiter fails with `error`.
    /// Closing twice fails nothing the second time.
    mutating func close(_ error: RedisClientError) -> [Waiter] {
        guard case .close(let waiters, _) = closeAction(error) else { return [] }
        return waiters
    }

    private mutating func closeAction(_ error: RedisClientError) -> ReceiveAction {
        guard closedWith == nil else { return .ignore }
        closedWith = error
        let waiters = pending.map(\.waiter)
        pending.removeAll()
        return .close(waiters, error)
    }
}
