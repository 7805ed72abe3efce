import ArgumentParser

/// `capillary`: the command-line face of Capillary (pipeline commands, and later the daemon client).
@main
struct Capillary: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capillary",
        abstract: "Explainable diabetic-retinopathy staging for OCTA images.",
        subcommands: [ImageInfoCommand.self, BenchRPCCommand.self, GenerateCommand.self,
                      CohortReportCommand.self, BenchRetinaCommand.self, ImportDatasetCommand.self,
                      BenchTensorsCommand.self, GraphCommand.self, BenchGraphCommand.self,
                      VLMCaptionsCommand.self, TrainVLMCommand.self, ExplainCommand.self,
                      EvalVLMCommand.self, BenchVLMCommand.self, TrainGNNCommand.self, EvalGNNCommand.self,
                      StageCommand.self, BenchGNNCommand.self, BenchDaemonCommand.self,
                      AttributeCommand.self, EvalAttributionCommand.self, BenchAttributionCommand.self]
    )
}
