import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from shortener.codes import decode, encode  # noqa: E402


class CodesTest(unittest.TestCase):
    def test_round_trip(self):
        for n in [0, 1, 61, 62, 1000, 123456789]:
            self.assertEqual(decode(encode(n)), n)

    def test_negative_is_rejected(self):
        with self.assertRaises(ValueError):
            encode(-1)

    def test_invalid_character(self):
        with self.assertRaises(ValueError):
            decode("ab-c")


if __name__ == "__main__":
    unittest.main()
