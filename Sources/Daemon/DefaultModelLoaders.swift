/// The model kinds this build of the daemon can load. Empty until the GraphNet (GNN) and VLM modules are
/// merged: the store is still listed, and loading says which kinds are missing.
public enum DefaultModelLoaders {
    /// Every loader of this build.
    public static var all: [ModelLoader] { [] }
}
