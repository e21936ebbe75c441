// payment-simulator: many clients, duplicates and retries against payment-api, then a
// check against the ledger that every payment was charged exactly once; and the load
// generators and the processor double the tests and the chart use.
import ArgumentParser
import Foundation
import SimulatorCore

struct PaymentSimulator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "payment-simulator",
        abstract: "Clients for payment-api (run, healthz, open-loop) and a payment processor double.",
        discussion: "Every option of run, healthz and open-loop can also come from the environment: --max-attempts from SIM_MAX_ATTEMPTS, "
            + "--target from SIM_TARGET (comma-separated); SIM_MODE (payments, healthz, open-loop, processor-double) names the "
            + "subcommand when the command line names none.",
        subcommands: [RunCommand.self, HealthzCommand.self, OpenLoopCommand.self, ProcessorDoubleCommand.self],
        defaultSubcommand: RunCommand.self
    )

    static let subcommandsByName = Dictionary(uniqueKeysWithValues: configuration.subcommands.map { ($0._commandName, $0) })
}

// Environment variables become arguments before parsing, so they are checked the same
// way; only the options of the subcommand that runs are taken from it.
extension PaymentSimulator {
    static func mainWithEnvironment() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        let environment = ProcessInfo.processInfo.environment
        // The root's own help lists the subcommands.
        if let first = arguments.first, ["-h", "--help", "help"].contains(first) {
            await PaymentSimulator.main(arguments)
        }
        var subcommand: any ParsableCommand.Type = RunCommand.self
        if let first = arguments.first, let named = subcommandsByName[first] {
            subcommand = named
            arguments.removeFirst()
        } else if let mode = environment["SIM_MODE"], !mode.isEmpty {
            // `payments` is the chart's name for `run`.
            guard let named = subcommandsByName[mode == "payments" ? "run" : mode] else {
                exit(withError: ValidationError("SIM_MODE must be payments, healthz, open-loop or processor-double, got '\(mode)'"))
            }
            subcommand = named
        }
        let accepted = EnvironmentArguments.longOptions(inHelp: subcommand.helpMessage(columns: 10_000))
        arguments = [subcommand._commandName] + EnvironmentArguments.merge(arguments, environment: environment, accepted: accepted)
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

await PaymentSimulator.mainWithEnvironment()
