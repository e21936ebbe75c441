import Testing

/// Polls `condition` every 10 ms for up to `timeout`; fails the test if it never holds.
/// Tests wait for the state they need instead of sleeping a guess: on two busy cores a
/// guessed sleep is sometimes too short. The default is long on purpose: it bounds a
/// state that must come, so it only costs time when the test fails. 5 s was not enough
/// once in CI (the 279 parallel tests on 2 cores: a lease test's first `begin` did not
/// land within 5 s), and a bound that luck decides is a flaky test.
public func waitUntil(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("condition did not hold within \(timeout)")
}
