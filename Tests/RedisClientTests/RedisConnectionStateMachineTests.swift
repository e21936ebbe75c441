import NIOCore
import Testing

@testable import RedisClient

@Suite("connection state machine")
struct RedisConnectionStateMachineTests {
    typealias Machine = RedisConnectionStateMachine<Int>
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    private func deadline(_ milliseconds: Int64) -> NIODeadline {
        start + .milliseconds(milliseconds)
    }

    @Test func repliesCompleteWaitersInSendOrder() {
        var machine = Machine(maxPending: 10, timeoutDescription: "500 ms")
        for waiter in 1...3 {
            _ = machine.send(waiter, deadline: deadline(500))
        }
        var completed: [Int] = []
        for _ in 1...3 {
            guard case .complete(let waiter) = machine.receive() else {
                Issue.record("expected a completion")
                return
            }
            completed.append(waiter)
        }
        #expect(completed == [1, 2, 3])
        #expect(machine.pendingCount == 0)
    }

    @Test func onlyTheFirstSendArmsTheTimer() {
        var machine = Machine(maxPending: 10, timeoutDescription: "500 ms")
        guard case .write(let first) = machine.send(1, deadline: deadline(500)),
              case .write(let second) = machine.send(2, deadline: deadline(510))
        else {
            Issue.record("expected writes")
            return
        }
        #expect(first == deadline(500))
        #expect(second == nil)
    }

    @Test func sendBeyondTheBoundIsAnOverloadAndNothingIsQueued() {
        var machine = Machine(maxPending: 2, timeoutDescription: "500 ms")
        _ = machine.send(1, deadline: deadline(500))
        _ = machine.send(2, deadline: deadline(500))
        guard case .fail(let error) = machine.send(3, deadline: deadline(500)) else {
            Issue.record("expected an overload")
            return
        }
        #expect(error.kind == .overload)
        #expect(machine.pendingCount == 2)
        // Once a reply frees a place, sending works again.
        _ = machine.receive()
        guard case .write = machine.send(4, deadline: deadline(500)) else {
            Issue.record("expected a write after a reply freed a place")
            return
        }
    }

    @Test func timerRearmsForTheNewHeadWhenTheOldOneWasAnswered() {
        var machine = Machine(maxPending: 10, timeoutDescription: "500 ms")
        _ = machine.send(1, deadline: deadline(500))
        _ = machine.send(2, deadline: deadline(700))
        _ = machine.receive()
        guard case .arm(let next) = machine.timerFired(now: deadline(500)) else {
            Issue.record("expected the timer to re-arm")
            return
        }
        #expect(next == deadline(700))
    }

    @Test func expiredHeadClosesAndFailsEveryWaiterWithATimeout() {
        var machine = Machine(maxPending: 10, timeoutDescription: "500 ms")
        _ = machine.send(1, deadline: deadline(500))
        _ = machine.send(2, deadline: deadline(600))
        guard case .close(let waiters, let error) = machine.timerFired(now: deadline(500)) else {
            Issue.record("expected a close")
            return
        }
        #expect(waiters == [1, 2])
        #expect(error.kind == .timeout)
        #expect(error.message == "no reply within 500 ms")
        // Afterwards the connection takes nothing and late replies are dropped.
        guard case .fail(let sendError) = machine.send(3, deadline: deadline(900)),
              case .ignore = machine.receive()
        else {
            Issue.record("expected a closed machine")
            return
        }
        #expect(sendError.kind == .timeout)
    }

    @Test func timerWithNothingPendingDisarms() {
        var machine = Machine(maxPending: 10, timeoutDescription: "500 ms")
        guard case .none = machine.timerFired(now: deadline(0)) else {
            Issue.record("expected no action")
            return
        }
        guard case .write(let armed) = machine.send(1, deadline: deadline(500)) else {
            Issue.record("expected a write")
            return
        }
        #expect(armed == deadline(500))
    }

    @Test func replyWithNobodyWaitingIsAProtocolError() {
        var machine = Machine(maxPending: 10, timeoutDescription: "500 ms")
        guard case .close(let waiters, let error) = machine.receive() else {
            Issue.record("expected a close")
            return
        }
        #expect(waiters.isEmpty)
        #expect(error.kind == .protocol)
    }

    @Test func closeFailsPendingOnce() {
        var machine = Machine(maxPending: 10, timeoutDescription: "500 ms")
        _ = machine.send(1, deadline: deadline(500))
        let error = RedisClientError(.connection, "connection closed")
        #expect(machine.close(error) == [1])
        #expect(machine.close(error) == [])
        #expect(machine.isClosed)
    }
}
