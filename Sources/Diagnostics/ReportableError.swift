/// A problem with the user's input or the run's files, shown as one line (after `error:`):
/// `launch` reports it and exits non-zero instead of crashing.
public protocol ReportableError: Error, CustomStringConvertible {}
