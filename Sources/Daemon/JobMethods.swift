import RPC

/// `jobs/list {}` -> `{jobs: [...]}` and `jobs/cancel {id}` -> the job's row (state may still be "running"
/// for a moment: the job stops at its next check, and its progress `end` says "cancelled").
struct JobMethods {
    let jobs: JobManager

    func list(_ ctx: RequestContext) throws -> JSONValue {
        ["jobs": .array(jobs.list().map(\.json)), "maxConcurrent": .int(Int64(jobs.maxConcurrent))]
    }

    struct CancelParams: Decodable { var id: String }

    func cancel(_ ctx: RequestContext) throws -> JSONValue {
        let p = try ctx.decodeParams(CancelParams.self)
        return try jobs.cancel(p.id).json
    }
}
