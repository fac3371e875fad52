"""`python -m aether.data`: the registered datasets, their kind, size and licence."""

from aether.data import DATASETS


def main() -> None:
    print(f"{'name':<24} {'kind':<8} {'small':<6} licence")
    for name, dataset in sorted(DATASETS.items()):
        print(f"{name:<24} {dataset.kind:<8} {dataset.small!s:<6} {dataset.licence}")


if __name__ == "__main__":
    main()
