import Foundation
import Subprocess

/// What Telegram shows of a video before it is played: its length, size and a thumbnail.
struct VideoMetadata: Equatable {
    /// Whole seconds, rounded.
    var duration: Int
    var width: Int
    var height: Int
    /// A JPEG of at most 320 pixels a side and ``VideoProbe/thumbnailLimit`` bytes, when one could be made.
    var thumbnail: [UInt8]?
}

/// Reads a video's metadata with `ffprobe` and makes its thumbnail with `ffmpeg`, both from
/// Debian's `ffmpeg` package, found on PATH. Both are optional: without them, or for a file they
/// cannot read as a video, there is no metadata and the video is sent without it (the supervisor
/// says once at start-up when they are missing).
enum VideoProbe {
    /// Telegram ignores a thumbnail above 200 kB.
    static let thumbnailLimit = 200_000

    /// The metadata of the video at `path`, or nil when it is not a video these tools can read
    /// (or they are not installed).
    static func read(_ path: String) async -> VideoMetadata? {
        let arguments = [
            "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height:format=duration",
            "-of", "json", path,
        ]
        guard let output = await run("ffprobe", arguments, limit: 64 << 10),
            let probed = try? JSONDecoder().decode(Probed.self, from: Data(output)),
            let stream = probed.streams.first, let width = stream.width, let height = stream.height, width > 0,
            height > 0, let seconds = probed.format?.duration.flatMap(Double.init), seconds > 0
        else { return nil }
        var metadata = VideoMetadata(duration: max(1, Int(seconds.rounded())), width: width, height: height)
        // A frame a second in (the first is often black), scaled to fit 320 × 320.
        let thumbnail = await run(
            "ffmpeg",
            [
                "-v", "error", "-nostdin", "-timelimit", "30", "-ss", seconds >= 2 ? "1" : "0", "-i", path,
                "-frames:v", "1", "-vf", "scale=320:320:force_original_aspect_ratio=decrease", "-q:v", "5",
                "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1",
            ], limit: 4 << 20)
        if let thumbnail, !thumbnail.isEmpty, thumbnail.count <= thumbnailLimit { metadata.thumbnail = thumbnail }
        return metadata
    }

    /// What `program` wrote when it exited 0; nil when it could not run or failed.
    private static func run(_ program: String, _ arguments: [String], limit: Int) async -> [UInt8]? {
        guard
            let result = try? await Subprocess.run(
                .name(program), arguments: Arguments(arguments), input: .none, output: .bytes(limit: limit),
                error: .discarded),
            case .exited(0) = result.terminationStatus
        else { return nil }
        return result.standardOutput
    }

    /// The parts of ffprobe's JSON read here.
    private struct Probed: Decodable {
        struct Stream: Decodable {
            var width: Int?
            var height: Int?
        }

        struct Format: Decodable {
            var duration: String?
        }

        var streams: [Stream]
        var format: Format?
    }
}
