import Foundation

/// Every simulator option can also come from the environment, for a Kubernetes Job:
/// `--max-attempts` from `SIM_MAX_ATTEMPTS`, `--target` from `SIM_TARGET`
/// (comma-separated), `--no-verify` from `SIM_VERIFY=false`. They become arguments
/// before parsing, so they are checked like flags; a flag on the command line wins.
/// `SIM_MODE` names the subcommand when the command line names none (`payments` is `run`).
public enum EnvironmentArguments {
    /// Options that are on/off flags with a `--no-` form.
    static let flags: Set<String> = ["--verify", "--honour-retry-after", "--retry-budget"]
    /// Flags without a `--no-` form: `SIM_X=true` sends `--x`, a false value sends nothing.
    static let plainFlags: Set<String> = ["--ignore-idempotency-keys"]

    /// `accepted`: the options of the subcommand that runs (nil: all). The environment is
    /// shared by every mode of a Job, so a variable another mode reads is left out rather
    /// than refused; a flag typed on the command line is still checked by the parser.
    public static func merge(_ arguments: [String], environment: [String: String], accepted: Set<String>? = nil) -> [String] {
        var extra: [String] = []
        for (name, value) in environment.sorted(by: { $0.key < $1.key })
        where name.hasPrefix("SIM_") && name != "SIM_MODE" && !value.isEmpty {
            let option = "--" + name.dropFirst(4).lowercased().map { $0 == "_" ? "-" : $0 }
            let negated = "--no-" + option.dropFirst(2)
            if let accepted, !accepted.contains(option) { continue }
            guard !arguments.contains(where: { $0 == option || $0.hasPrefix(option + "=") || $0 == negated }) else { continue }
            if option == "--target" {
                for target in value.split(separator: ",") { extra += [option, String(target)] }
            } else if plainFlags.contains(option) {
                if !["0", "false", "no", "off"].contains(value.lowercased()) { extra.append(option) }
            } else if flags.contains(option) {
                extra.append(["0", "false", "no", "off"].contains(value.lowercased()) ? negated : option)
            } else {
                extra += [option, value]
            }
        }
        return arguments + extra
    }

    /// The long options a command's help lists (`--clients`, `--no-verify`, …): what
    /// `accepted` is made of, read from the parser's own description of the command.
    public static func longOptions(inHelp help: String) -> Set<String> {
        var options: Set<String> = []
        var index = help.startIndex
        while let range = help.range(of: "--", range: index..<help.endIndex) {
            var end = range.upperBound
            while end < help.endIndex, help[end].isASCII, help[end].isLowercase || help[end].isNumber || help[end] == "-" {
                end = help.index(after: end)
            }
            if end > range.upperBound { options.insert(String(help[range.lowerBound..<end])) }
            index = end
        }
        return options
    }
}
