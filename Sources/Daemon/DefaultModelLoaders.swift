/// The model kinds this build of the daemon can load: GraphNet's staging GNN ("graphnet") and the student
/// VLM ("vlm").
public enum DefaultModelLoaders {
    /// Every loader of this build.
    public static var all: [ModelLoader] { [GraphNetModels.loader, VLMModels.loader] }
}
