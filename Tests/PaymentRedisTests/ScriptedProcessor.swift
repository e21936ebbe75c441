import PaymentCore
import Synchronization

/// A processor whose answers the test decides, one per call, and which remembers every
/// charge and lookup it was asked for.
final class ScriptedProcessor: PaymentProcessor {
    private struct State {
        var charges: [ProcessorResult]
        var lookups: [ProcessorLookup]
        var charged: [ProcessorCharge] = []
        var lookedUp: [String] = []
    }

    private let state: Mutex<State>
    /// How long a charge takes before it answers; cancellation ends the wait.
    let latency: Duration

    /// `charges` and `lookups` are answered in order; the last one repeats.
    init(charges: [ProcessorResult] = [.charged(chargeID: "ch_1")], lookups: [ProcessorLookup] = [.notCharged], latency: Duration = .zero) {
        state = Mutex(State(charges: charges, lookups: lookups))
        self.latency = latency
    }

    var charged: [ProcessorCharge] { state.withLock { $0.charged } }
    var lookedUp: [String] { state.withLock { $0.lookedUp } }

    func charge(_ charge: ProcessorCharge) async -> ProcessorResult {
        if latency > .zero {
            do { try await Task.sleep(for: latency) } catch { return .unknown("cancelled") }
        }
        return state.withLock { state in
            state.charged.append(charge)
            return state.charges.count > 1 ? state.charges.removeFirst() : state.charges[0]
        }
    }

    func lookup(processorKey: String) async -> ProcessorLookup {
        state.withLock { state in
            state.lookedUp.append(processorKey)
            return state.lookups.count > 1 ? state.lookups.removeFirst() : state.lookups[0]
        }
    }
}
