"""The demo target: the Python twin of Arthas's ``demo.MathGame`` (math-game).

This file is imported as the top-level module ``demo`` (its directory goes on ``sys.path``), so
the class's dotted name is ``demo.MathGame`` exactly as in the Arthas tutorials:
``watch demo.MathGame primeFactors "{params, returnObj}" -x 2``.
"""

from __future__ import annotations

import random
import time


class MathGame:
    """Factorises a random number about once a second; negative numbers raise ValueError."""

    def __init__(self, seed: int | None = None) -> None:
        self.random = random.Random(seed)
        self.illegal_argument_count = 0

    def run(self) -> None:
        """One round: draw a number in Arthas's range (nextInt() / 10000), factorise, print."""
        number = int(self.random.randint(-(2**31), 2**31 - 1) / 10000)
        try:
            factors = self.primeFactors(number)
            self.print(number, factors)
        except ValueError as exc:
            print(f"illegalArgumentCount:{self.illegal_argument_count:3d}, {exc}", flush=True)

    @staticmethod
    def print(number: int, factors: list[int]) -> None:
        print(f"{number}=" + "*".join(str(f) for f in factors), flush=True)

    def primeFactors(self, number: int) -> list[int]:  # noqa: N802 - the Arthas tutorial name
        """The prime factors of ``number`` in ascending order; numbers below 2 are refused."""
        if number < 2:
            self.illegal_argument_count += 1
            raise ValueError(f"number is: {number}, need >= 2")
        result: list[int] = []
        i = 2
        while i * i <= number:
            while number % i == 0:
                result.append(i)
                number //= i
            i += 1
        if number > 1:
            result.append(number)
        return result


def main(interval: float = 1.0) -> None:
    """Play forever, one round per ``interval`` seconds (the demo is stopped from outside)."""
    game = MathGame()
    while True:
        game.run()
        time.sleep(interval)


if __name__ == "__main__":
    main()
