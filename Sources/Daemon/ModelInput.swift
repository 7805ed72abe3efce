import Foundation
import GraphNet
import Retina
import RPC
import VesselGraph

/// What the model methods (`stage`, `attribute`, `explain`) start with: the request's image, decoded, then a
/// lease on the model it names, taken only if the request is still wanted (a cancelled request loads nothing).
/// The caller releases `lease` when done.
struct ModelInput {
    /// The decoded (or simulated) image.
    let decoded: DecodedImage
    /// The checked-out model.
    let lease: ModelLease
    /// Monotonic time when decoding started, s.
    let startSeconds: Double
    /// Time to check out the model (a cold model is loaded then), ms.
    let loadMS: Double

    /// - Throws: the image's `DaemonError`s, `RequestCancelled`, and the registry's model errors.
    init(_ ctx: RequestContext, images: ImageParameter, registry: ModelRegistry, model name: String) throws {
        startSeconds = ProcessStats.monotonicSeconds()
        decoded = try images.decode(ctx.params)
        try ctx.checkCancelled()
        let t = ProcessStats.monotonicSeconds()
        lease = try registry.acquire(name)
        loadMS = (ProcessStats.monotonicSeconds() - t) * 1000
    }
}

extension ModelLease {
    /// `{name, version, kind}` of the leased model: how every model method's result names the model it used.
    var json: JSONValue {
        ["name": .string(stored.name), "version": .string(stored.version), "kind": .string(stored.kind)]
    }

    /// The leased model as a `T`, for a method that can use only that kind.
    /// - Throws: `DaemonError.invalidParams` naming the model, its kind, `method` and what it `needs`.
    func model<T: WarmModel>(as type: T.Type, for method: String, needs: String) throws -> T {
        guard let m = model as? T else {
            throw DaemonError.invalidParams("model '\(stored.name)' is of kind '\(stored.kind)'; \(method) needs \(needs)")
        }
        return m
    }
}

extension WarmStagingModel {
    /// The vessel graph of `image`, built with the builder settings the model was trained with.
    /// - Throws: `DaemonError.badImage` when the image gives no graph.
    func graph(of image: GrayImage) throws -> OCTAGraph {
        do { return try VesselGraphBuilder(config: model.storedConfig.builder).build(image) } catch let e as VesselGraphError {
            throw DaemonError.badImage("\(e)")
        }
    }
}
