import Testing

/// Polls `condition` every 10 ms for up to `timeout`; fails the test if it never holds.
/// Tests wait for the state they need instead of sleeping a guess: on two busy cores a
/// guessed sleep is sometimes too short.
public func waitUntil(timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("condition did not hold within \(timeout)")
}
