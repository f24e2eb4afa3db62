import Testing

/// The suites that start real `ferry` processes, nested here so they run one at a time. Their
/// waits on processes block a thread, and on a 2-core machine two such suites at once starve the
/// cooperative pool that every other test's timers and polls run on.
@Suite(.serialized)
enum ProcessSuites {}
