import CLibUV

/// Where a connection is in the LSP-style lifecycle.
enum Lifecycle {
    /// Only `initialize` (and `exit`) are accepted.
    case uninitialized
    /// Serving.
    case initialized
    /// `shutdown` was received; only `exit` is accepted.
    case shutDown
}

/// A request that was handed to a worker and has not finished.
final class InflightRequest {
    let serial: UInt64
    let id: RequestID?
    let method: String
    let token: CancellationToken
    let batch: BatchReply?
    let slot: Int
    let startSeconds: Double

    init(serial: UInt64, id: RequestID?, method: String, token: CancellationToken, batch: BatchReply?, slot: Int,
         startSeconds: Double) {
        self.serial = serial
        self.id = id
        self.method = method
        self.token = token
        self.batch = batch
        self.slot = slot
        self.startSeconds = startSeconds
    }
}

/// The replies of one batch, collected until every request in it has finished.
final class BatchReply {
    var parts: [[UInt8]?]
    var pending = 0
    /// Bytes of worker replies in `parts`, which their workers already added to the connection's flow.
    var countedBytes = 0

    init(count: Int) { parts = Array(repeating: nil, count: count) }

    /// `[part,part,...]` of the requests that were not notifications; nil if there is nothing to send.
    func body() -> [UInt8]? {
        let present = parts.compactMap { $0 }
        guard !present.isEmpty else { return nil }
        var out: [UInt8] = [UInt8(ascii: "[")]
        for (i, p) in present.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: p)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }
}

/// One client connection, as the loop thread sees it: the libuv pipe, the incoming frame buffer, the
/// lifecycle, the requests in flight, and the output waiting to be flushed.
final class ClientConnection {
    let id: UInt64
    let pipe: UnsafeMutablePointer<uv_pipe_t>
    let flow: WriteFlow
    var decoder: FrameDecoder
    var lifecycle = Lifecycle.uninitialized
    var inflight: [UInt64: InflightRequest] = [:]
    var inflightByID: [RequestID: UInt64] = [:]
    /// Framed bytes waiting for the next flush (one `uv_write` per loop iteration per connection).
    var out: [UInt8] = []
    /// Bytes of `out` that producers already added to `flow`.
    var outCounted = 0
    var queuedForFlush = false
    var queuedForResume = false
    var writesInFlight = 0
    var reading = false
    var closing = false
    var closeAfterFlush = false
    let readBuffer: UnsafeMutableRawPointer
    static let readBufferBytes = 64 * 1024

    init(id: UInt64, pipe: UnsafeMutablePointer<uv_pipe_t>, flow: WriteFlow, maxMessageBytes: Int) {
        self.id = id
        self.pipe = pipe
        self.flow = flow
        decoder = FrameDecoder(maxMessageBytes: maxMessageBytes)
        readBuffer = UnsafeMutableRawPointer.allocate(byteCount: Self.readBufferBytes, alignment: 16)
    }

    deinit {
        readBuffer.deallocate()
        pipe.deallocate()
    }

    var framing: Framing { decoder.framing ?? .lines }

    var stream: UnsafeMutablePointer<uv_stream_t> { UnsafeMutablePointer(OpaquePointer(pipe)) }
    var handle: UnsafeMutablePointer<uv_handle_t> { UnsafeMutablePointer(OpaquePointer(pipe)) }
}

/// One `uv_write` in progress: its bytes (malloc'd, freed in the write callback) and its connection.
final class PendingWrite {
    let connection: ClientConnection
    let bytes: UnsafeMutableRawPointer
    let count: Int

    init(connection: ClientConnection, bytes: [UInt8]) {
        self.connection = connection
        count = bytes.count
        self.bytes = UnsafeMutableRawPointer.allocate(byteCount: max(1, count), alignment: 1)
        bytes.withUnsafeBytes { self.bytes.copyMemory(from: $0.baseAddress!, byteCount: count) }
    }

    deinit { bytes.deallocate() }
}
