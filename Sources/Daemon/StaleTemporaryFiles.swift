import Foundation

/// Leftovers of writers killed mid-save (`kill -9`, power loss): the hidden version folders
/// `<store>/<name>/.tmp-<version>-<pid>-...` (GraphNet's ModelStore), `.tmp-v<N>-<pid>` (VLMStore) and the
/// temporary files `<file>.tmp-<pid>-<random>` of DurableFile in `<store>/<name>/checkpoint/`. The store
/// index never reads them (they start with "." or are not model files), so they are only wasted space; the
/// daemon removes those whose writing process no longer exists when it starts.
public enum StaleTemporaryFiles {
    /// Removes leftovers in `store` whose writer (the pid in the name) is not running. Returns the paths removed.
    /// Entries of a live process (another daemon or CLI saving now) and names without a pid are kept.
    @discardableResult
    public static func remove(in store: String) -> [String] {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: store) else { return [] }
        var removed: [String] = []
        for name in names where !name.hasPrefix(".") {
            let nameDir = (store as NSString).appendingPathComponent(name)
            for item in (try? fm.contentsOfDirectory(atPath: nameDir)) ?? [] {
                // ".tmp-<version>-<pid>[-<random>]": the pid is the third dash-separated part.
                let parts = item.split(separator: "-", omittingEmptySubsequences: false)
                if item.hasPrefix(".tmp-"), parts.count >= 3, let pid = Int32(parts[2]), !isRunning(pid) {
                    let p = (nameDir as NSString).appendingPathComponent(item)
                    if (try? fm.removeItem(atPath: p)) != nil { removed.append(p) }
                }
            }
            let checkpoint = (nameDir as NSString).appendingPathComponent("checkpoint")
            for item in (try? fm.contentsOfDirectory(atPath: checkpoint)) ?? [] {
                // "<file>.tmp-<pid>-<random>" (DurableFile's temporary name).
                guard let r = item.range(of: ".tmp-", options: .backwards) else { continue }
                let parts = item[r.upperBound...].split(separator: "-")
                if parts.count == 2, let pid = Int32(parts[0]), UInt32(parts[1]) != nil, !isRunning(pid) {
                    let p = (checkpoint as NSString).appendingPathComponent(item)
                    if (try? fm.removeItem(atPath: p)) != nil { removed.append(p) }
                }
            }
        }
        return removed
    }

    /// Whether a process with this id exists (EPERM: it exists but belongs to someone else).
    static func isRunning(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }
}
