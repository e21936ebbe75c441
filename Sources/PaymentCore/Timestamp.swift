#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Now, in UTC, as `2026-12-06T22:57:42.123Z` (RFC 3339 with milliseconds): a receipt's
/// `created_at` and every log line's `time`.
///
/// Why not Foundation's `ISO8601FormatStyle`: it costs microseconds per call, and every
/// new payment makes one and logs one. Here the date and time to the second are made once
/// a second and kept; each call adds the milliseconds.
public enum Timestamp {
    private static let second = Mutex<(epoch: Int, text: String)>((-1, ""))

    public static func now() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        let epoch = Int(time.tv_sec)
        let prefix = second.withLock { cached in
            if cached.epoch != epoch { cached = (epoch, format(epochSeconds: epoch)) }
            return cached.text
        }
        let milliseconds = Int(time.tv_nsec) / 1_000_000
        return prefix + "." + digits(milliseconds, 3) + "Z"
    }

    /// A time in milliseconds since 1970 (Redis's `TIME`, as the records keep it) in the
    /// same form as `now()`: a lookup's times read like the receipt's `created_at`.
    public static func format(milliseconds: Int64) -> String {
        let (seconds, rest) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        // Before 1970 the remainder is negative: borrow a second, as the clock would.
        let (epoch, fraction) = rest < 0 ? (seconds - 1, rest + 1000) : (seconds, rest)
        return format(epochSeconds: Int(epoch)) + "." + digits(Int(fraction), 3) + "Z"
    }

    /// `2026-12-06T22:57:42`, UTC.
    static func format(epochSeconds: Int) -> String {
        var seconds = time_t(epochSeconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return digits(Int(parts.tm_year) + 1900, 4) + "-" + digits(Int(parts.tm_mon) + 1, 2) + "-" + digits(Int(parts.tm_mday), 2)
            + "T" + digits(Int(parts.tm_hour), 2) + ":" + digits(Int(parts.tm_min), 2) + ":" + digits(Int(parts.tm_sec), 2)
    }

    private static func digits(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
