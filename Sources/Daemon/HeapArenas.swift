/// glibc malloc tuning for a long-running daemon.
///
/// glibc gives threads their own heap arenas (up to 8 per core, 64 MiB each). Training and cohort building
/// run on many threads, so a daemon that trained once kept ~1 GB resident in half-empty arenas (measured:
/// 18 arenas of ~64 MiB after a GNN + VLM training job) that `malloc_trim` could not return. Capping the
/// arenas makes those threads reuse the same heaps.
public enum HeapArenas {
    /// Caps glibc's malloc arenas at `count` (call at start-up, before threads exist). Returns false when
    /// the C library refused (or is not glibc).
    @discardableResult
    public static func limit(to count: Int32) -> Bool {
        // M_ARENA_MAX from <malloc.h>.
        mallopt(-8, count) == 1
    }
}

/// glibc's `mallopt` (not exported by the Glibc module).
@_silgen_name("mallopt")
private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
