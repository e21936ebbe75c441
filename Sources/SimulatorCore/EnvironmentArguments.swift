/// Every simulator option can also come from the environment, for a Kubernetes Job:
/// `--max-attempts` from `SIM_MAX_ATTEMPTS`, `--target` from `SIM_TARGET`
/// (comma-separated), `--no-verify` from `SIM_VERIFY=false`. They become arguments
/// before parsing, so they are checked like flags; a flag on the command line wins.
public enum EnvironmentArguments {
    /// Options that are on/off flags with a `--no-` form.
    static let flags: Set<String> = ["--verify", "--honour-retry-after", "--retry-budget"]
    /// Flags without a `--no-` form: `SIM_X=true` sends `--x`, a false value sends nothing.
    static let plainFlags: Set<String> = ["--processor-ignore-idempotency-keys"]

    public static func merge(_ arguments: [String], environment: [String: String]) -> [String] {
        var extra: [String] = []
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("SIM_") && !value.isEmpty {
            let option = "--" + name.dropFirst(4).lowercased().map { $0 == "_" ? "-" : $0 }
            let negated = "--no-" + option.dropFirst(2)
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
}
