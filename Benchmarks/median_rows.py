"""Folds the rows of several interleaved runs of the queue benchmark (Ferry's QueueBenchmark and
litequeue, alternating) into one row per scenario: the median of each figure, in the order the
scenarios first appeared. Reads tab-separated lines; prints the header once, then the medians."""
import re
import statistics
import sys


def main(path):
    header, rows, order = None, {}, []
    with open(path) as f:
        for line in f:
            cells = line.rstrip("\n").split("\t")
            if cells[0] == "scenario":
                header = header or line.rstrip("\n")
                continue
            if len(cells) < 4 or line.startswith("#"):
                continue
            key = tuple(cells[:4])
            if key not in rows:
                rows[key] = []
                order.append(key)
            rows[key].append(cells[4:])
    if header:
        print(header)
    for key in order:
        runs = rows[key]
        out = list(key)
        for column in range(len(runs[0])):
            values = [run[column] for run in runs if column < len(run)]
            numbers = [re.match(r"^([\d.]+)(.*)$", v) for v in values]
            if all(numbers):
                middle = statistics.median(float(m.group(1)) for m in numbers)
                decimals = 2 if "." in numbers[0].group(1) else 0
                out.append(f"{middle:.{decimals}f}{numbers[0].group(2)}")
            else:
                out.append(values[0])
        print("\t".join(out))
    print(f"# median of {len(rows[order[0]]) if order else 0} interleaved runs per row")


if __name__ == "__main__":
    main(sys.argv[1])
