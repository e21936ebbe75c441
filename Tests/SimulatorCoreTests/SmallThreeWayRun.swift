@testable import SimulatorCore

extension SimulatorSettings {
    /// A run for the three-way suites: one client, one copy, user t-u0, `payments`
    /// payments of 500 minor units each (USD, EUR, JPY, KWD in turn), charged in order
    /// through the FakePaymentServer's processor.
    static func smallThreeWayRun(_ payments: Int, _ configure: (inout SimulatorSettings) -> Void = { _ in }) -> SimulatorSettings {
        var settings = SimulatorSettings(targets: ["http://fake"])
        settings.clients = 1
        settings.payments = payments
        settings.users = 1
        settings.duplicates = 1
        settings.runID = "t"
        settings.amountRangeMinor = 500...500
        settings.backoff = Backoff(base: .milliseconds(1), maximum: .milliseconds(5), jitter: .full)
        settings.processorURL = FakePaymentServer.processorURL
        configure(&settings)
        return settings
    }
}
