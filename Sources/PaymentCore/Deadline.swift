/// `work`'s result, or `timedOut()` once `limit` has passed, whichever comes first. The
/// loser is cancelled and awaited, so `work` must end on cancellation (return nil then,
/// or anything: once the limit won, its result is dropped).
///
/// One place for "this much and no longer": the processor's whole exchange (head and
/// body) and the payment's work limit both bound their waits with it.
public func firstWithin<T: Sendable>(
    _ limit: Duration, otherwise timedOut: @escaping @Sendable () -> T, _ work: @escaping @Sendable () async -> T?
) async -> T {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await work() }
        group.addTask {
            try? await Task.sleep(for: limit)
            return Task.isCancelled ? nil : timedOut()
        }
        defer { group.cancelAll() }
        while let first = await group.next() {
            if let first { return first }
        }
        // Both ended by cancellation: the caller was cancelled; nothing was answered.
        return timedOut()
    }
}
