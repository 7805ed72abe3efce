import Foundation
import RPC

/// `models/list`, `models/load`, `models/unload`: the warm model registry over the protocol.
struct ModelMethods {
    let registry: ModelRegistry

    /// `models/list {}` -> `{store, kinds, models: [{name, kind, version, latest, loaded, memoryBytes,
    /// weightsBytes, lastUsed, keepAliveSeconds, expiresInSeconds, inUse, metrics}]}`, one row per version
    /// on disk (the store is rescanned).
    func list(_ ctx: RequestContext) throws -> JSONValue {
        let stored = registry.refresh()
        let loaded = registry.loaded()
        let now = Date()
        var rows: [JSONValue] = []
        for m in stored {
            let latest = ModelStoreIndex.latest(m.name, in: stored)?.version == m.version
            var o: JSONObject = ["name": .string(m.name), "kind": .string(m.kind), "version": .string(m.version),
                                 "latest": .bool(latest)]
            if let l = loaded[m.name], l.stored.version == m.version {
                o["loaded"] = true
                o["memoryBytes"] = .int(Int64(l.memoryBytes))
                o["lastUsed"] = .string(ISO8601.string(l.lastUsed))
                o["keepAliveSeconds"] = .double(l.keepAliveSeconds)
                o["expiresInSeconds"] = l.keepAliveSeconds < 0 || l.leases > 0 ? .null
                    : .double(max(0, l.keepAliveSeconds - now.timeIntervalSince(l.lastUsed)))
                o["inUse"] = .int(Int64(l.leases))
            } else {
                o["loaded"] = false
                o["memoryBytes"] = 0
                o["lastUsed"] = .null
            }
            o["weightsBytes"] = .int(Int64(m.weightsBytes))
            o["loadable"] = .bool(registry.kinds.contains(m.kind))
            o["metrics"] = m.metrics ?? .null
            rows.append(.object(o))
        }
        return ["store": .string(registry.storePath), "kinds": .array(registry.kinds.map { .string($0) }),
                "maxLoaded": .int(Int64(registry.maxLoaded)), "models": .array(rows)]
    }

    struct LoadParams: Decodable {
        var name: String
        var version: String?
        var keepAlive: Double?
    }

    /// `models/load {name, version?, keepAlive?}` -> `{name, version, kind, loaded, memoryBytes, loadMS,
    /// wasLoaded, replacedVersion, evicted, keepAliveSeconds}`. keepAlive: seconds, 0 = unload now, -1 = forever.
    func load(_ ctx: RequestContext) throws -> JSONValue {
        let p = try ctx.decodeParams(LoadParams.self)
        let r = try registry.load(p.name, version: p.version, keepAliveSeconds: p.keepAlive)
        let state = registry.loaded()[p.name]
        return ["name": .string(r.stored.name), "version": .string(r.stored.version), "kind": .string(r.stored.kind),
                "loaded": .bool(state != nil), "memoryBytes": .int(Int64(r.memoryBytes)), "loadMS": .double(r.loadMS),
                "wasLoaded": .bool(r.wasLoaded), "replacedVersion": r.replacedVersion.map { .string($0) } ?? .null,
                "evicted": .array(r.evicted.map { .string($0) }),
                "keepAliveSeconds": state.map { .double($0.keepAliveSeconds) } ?? .null]
    }

    struct UnloadParams: Decodable { var name: String }

    /// `models/unload {name}` -> `{name, unloaded, version}` (`unloaded` false when it was not in memory).
    func unload(_ ctx: RequestContext) throws -> JSONValue {
        let p = try ctx.decodeParams(UnloadParams.self)
        let v = registry.unload(p.name)
        return ["name": .string(p.name), "unloaded": .bool(v != nil), "version": v.map { .string($0) } ?? .null]
    }
}
