public import Foundation

/// RFC 3339 timestamps at microsecond precision, written and read without locale
/// or calendar services.
///
/// The engine truncates every `now` it is given to whole microseconds, so a time
/// written to a log and read back is bit-for-bit the time the live state used:
/// replay from storage equals the live state, and Postgres `timestamptz` (also
/// microseconds) holds it exactly.
public enum Timestamp {
    /// `date` truncated to whole microseconds.
    public static func truncate(_ date: Date) -> Date {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded(.down)
        return Date(timeIntervalSince1970: micros / 1_000_000)
    }

    /// `date` as `2026-11-25T17:49:44.123456Z`.
    public static func format(_ date: Date) -> String {
        let parts = Parts(date)
        if parts.hasFourDigitYear {
            // The usual case, written digit by digit into the string's own storage: building
            // it from padded pieces cost a dozen small strings (this runs for every event).
            return String(unsafeUninitializedCapacity: Parts.width) { text in
                parts.write(into: text)
                return Parts.width
            }
        }
        return parts.paddedText
    }

    /// Appends ``format(_:)``'s text for `date` to `output`, without a string in between:
    /// what an event's JSON and a date inside a payload are written with.
    public static func append(_ date: Date, to output: inout [UInt8]) {
        let parts = Parts(date)
        guard parts.hasFourDigitYear else {
            output.append(contentsOf: parts.paddedText.utf8)
            return
        }
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: Parts.width))
        output.withUnsafeMutableBufferPointer { buffer in
            parts.write(into: UnsafeMutableBufferPointer(rebasing: buffer[start...]))
        }
    }

    /// A date's calendar fields in UTC, at microseconds.
    private struct Parts {
        /// `yyyy-mm-ddThh:mm:ss.ffffffZ`.
        static let width = 27

        var year, month, day, secondOfDay, micros: Int64

        init(_ date: Date) {
            let totalMicros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
            var seconds = totalMicros / 1_000_000
            micros = totalMicros % 1_000_000
            if micros < 0 {
                micros += 1_000_000
                seconds -= 1
            }
            var days = seconds / 86_400
            secondOfDay = seconds % 86_400
            if secondOfDay < 0 {
                secondOfDay += 86_400
                days -= 1
            }
            (year, month, day) = Timestamp.civil(fromDays: days)
        }

        var hasFourDigitYear: Bool { (0...9999).contains(year) }

        /// The text, written into `text`'s first ``width`` bytes (a four-digit year only).
        func write(into text: UnsafeMutableBufferPointer<UInt8>) {
            func put(_ value: Int64, _ width: Int, at offset: Int) {
                var rest = value
                for position in stride(from: offset + width - 1, through: offset, by: -1) {
                    text[position] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
                    rest /= 10
                }
            }
            put(year, 4, at: 0)
            text[4] = UInt8(ascii: "-")
            put(month, 2, at: 5)
            text[7] = UInt8(ascii: "-")
            put(day, 2, at: 8)
            text[10] = UInt8(ascii: "T")
            put(secondOfDay / 3600, 2, at: 11)
            text[13] = UInt8(ascii: ":")
            put(secondOfDay / 60 % 60, 2, at: 14)
            text[16] = UInt8(ascii: ":")
            put(secondOfDay % 60, 2, at: 17)
            text[19] = UInt8(ascii: ".")
            put(micros, 6, at: 20)
            text[26] = UInt8(ascii: "Z")
        }

        /// The text for any year, from padded pieces (years before 0 or after 9999).
        var paddedText: String {
            func pad(_ value: Int64, _ width: Int) -> String {
                let text = String(value)
                return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
            }
            return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):"
                + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(micros, 6))Z"
        }
    }

    /// Parses RFC 3339 (`Z` or `±hh:mm` offset, 0–9 fraction digits); nil when malformed.
    public static func parse(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { parse(utf8: $0) }
    }

    private static func parse(utf8 bytes: UnsafeBufferPointer<UInt8>) -> Date? {
        var index = 0
        func number(_ width: Int) -> Int64? {
            guard index + width <= bytes.count else { return nil }
            var value: Int64 = 0
            for offset in 0..<width {
                let byte = bytes[index + offset]
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int64(byte - 48)
            }
            index += width
            return value
        }
        func expect(_ character: UInt8, or other: UInt8? = nil, or third: UInt8? = nil) -> Bool {
            guard index < bytes.count else { return false }
            let byte = bytes[index]
            guard byte == character || byte == other || byte == third else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2),
            expect(84, or: 116, or: 32), let hour = number(2), expect(58), let minute = number(2), expect(58),
            let second = number(2)
        else { return nil }
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var micros: Int64 = 0
        if index < bytes.count, bytes[index] == 46 {
            index += 1
            var digits = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                if digits < 6 { micros = micros * 10 + Int64(bytes[index] - 48) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            var scale = digits
            while scale < 6 {
                micros *= 10
                scale += 1
            }
        }
        var offsetSeconds: Int64 = 0
        if expect(90, or: 122) {
            offsetSeconds = 0
        } else if index < bytes.count, bytes[index] == 43 || bytes[index] == 45 {
            let sign: Int64 = bytes[index] == 45 ? -1 : 1
            index += 1
            guard let offsetHour = number(2), expect(58), let offsetMinute = number(2) else { return nil }
            offsetSeconds = sign * (offsetHour * 3600 + offsetMinute * 60)
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        let days = days(fromCivil: year, month, day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Date(timeIntervalSince1970: Double(seconds * 1_000_000 + micros) / 1_000_000)
    }

    // Howard Hinnant's civil-from-days algorithms: exact for the proleptic Gregorian calendar.
    private static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

extension Date {
    /// `self` plus a Swift `Duration`, truncated to microseconds like every engine time.
    func adding(_ duration: Duration) -> Date {
        adding(microseconds: duration.engineMicroseconds)
    }

    /// `self` plus whole microseconds (``Swift/Duration/engineMicroseconds``), truncated to microseconds.
    func adding(microseconds micros: Double) -> Date {
        let base = (timeIntervalSince1970 * 1_000_000).rounded(.down)
        return Date(timeIntervalSince1970: (base + micros) / 1_000_000)
    }
}

extension Duration {
    /// The duration in whole microseconds, as the engine adds it to times; steps
    /// compute it once, since splitting a `Duration` costs 128-bit arithmetic.
    var engineMicroseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1_000_000 + Double(attoseconds / 1_000_000_000_000)
    }
}
