/// The model kinds this build of the daemon can load: GraphNet's staging GNN ("graphnet"). The VLM kind is
/// added when the VLM module is merged.
public enum DefaultModelLoaders {
    /// Every loader of this build.
    public static var all: [ModelLoader] { [GraphNetModels.loader] }
}
