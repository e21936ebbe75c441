import NIOCore

// The bridges from the ports' async methods to the event loop: what a port that cannot
// answer on the loop itself (a test double, the HTTP processor) does. Each runs the
// async method in a task and completes its future on `eventLoop`.

extension IdempotencyStore {
    public func begin(
        _ request: PaymentRequest, owner: String, lease: Duration, retention: Duration, rateLimit: RateLimitPolicy?, on eventLoop: any EventLoop
    ) -> EventLoopFuture<BeginResult> {
        eventLoop.makeFutureWithTask {
            try await self.begin(request, owner: owner, lease: lease, retention: retention, rateLimit: rateLimit)
        }
    }

    public func complete(
        _ request: PaymentRequest, lease: Lease, response: StoredResponse, charge: LedgerCharge?, identity: PaymentIdentity, retention: Duration,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<CompleteResult> {
        eventLoop.makeFutureWithTask {
            try await self.complete(request, lease: lease, response: response, charge: charge, identity: identity, retention: retention)
        }
    }

    public func markUnknown(
        _ request: PaymentRequest, lease: Lease, identity: PaymentIdentity, retention: Duration, followUp: UnknownFollowUp, on eventLoop: any EventLoop
    ) -> EventLoopFuture<Bool> {
        eventLoop.makeFutureWithTask {
            try await self.markUnknown(request, lease: lease, identity: identity, retention: retention, followUp: followUp)
        }
    }

    public func confirmReplay(_ request: PaymentRequest, on eventLoop: any EventLoop) -> EventLoopFuture<ReplayCheck> {
        eventLoop.makeFutureWithTask { try await self.confirmReplay(request) }
    }

    public func abort(_ request: PaymentRequest, lease: Lease, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        eventLoop.makeFutureWithTask { try await self.abort(request, lease: lease) }
    }

    public func abandon(_ request: PaymentRequest, owner: String, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        eventLoop.makeFutureWithTask { try await self.abandon(request, owner: owner) }
    }

    public func extend(_ request: PaymentRequest, lease: Lease, to duration: Duration, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        eventLoop.makeFutureWithTask { try await self.extend(request, lease: lease, to: duration) }
    }

    public func index(_ request: PaymentRequest, identity: PaymentIdentity, retention: Duration, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        eventLoop.makeFutureWithTask { try await self.index(request, identity: identity, retention: retention) }
    }
}

extension RateLimiter {
    public func acquire(on eventLoop: any EventLoop) -> EventLoopFuture<RateLimitDecision> {
        eventLoop.makeFutureWithTask { try await self.acquire() }
    }
}

extension PaymentProcessor {
    public func charge(_ charge: ProcessorCharge, on eventLoop: any EventLoop) -> EventLoopFuture<ProcessorResult> {
        eventLoop.makeFutureWithTask { await self.charge(charge) }
    }
}
