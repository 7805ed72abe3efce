import ArgumentParser

/// `capillary`: the command-line face of Capillary: pipeline commands that run in this process, and the
/// daemon client (explain, stage, graph --daemon, models, status, train, jobs, daemon start/stop).
@main
struct Capillary: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capillary",
        abstract: "Explainable diabetic-retinopathy staging for OCTA images.",
        subcommands: [
                      // Pipeline commands that run in this process.
                      ImageInfoCommand.self, GenerateCommand.self, CohortReportCommand.self, ImportDatasetCommand.self,
                      GraphCommand.self, TrainGNNCommand.self, EvalGNNCommand.self, StageCommand.self,
                      VLMCaptionsCommand.self, TrainVLMCommand.self, ExplainCommand.self, EvalVLMCommand.self,
                      AttributeCommand.self, EvalAttributionCommand.self, KnowledgeCommand.self, ReportCommand.self,
                      // Benchmarks (make bench).
                      BenchRPCCommand.self, BenchRetinaCommand.self, BenchTensorsCommand.self, BenchGraphCommand.self,
                      BenchGNNCommand.self, BenchAttributionCommand.self, BenchVLMCommand.self, BenchDaemonCommand.self,
                      // Daemon client (Sources/capillary/DaemonClient.swift holds the shared plumbing).
                      ModelsCommand.self, StatusCommand.self, TrainCommand.self, JobsCommand.self, DaemonCommand.self,
                     ]
    )
}
