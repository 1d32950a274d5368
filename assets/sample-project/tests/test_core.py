import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from shortener import Shortener, UnknownCode  # noqa: E402


class ShortenerTest(unittest.TestCase):
    def test_shorten_and_expand(self):
        s = Shortener()
        code = s.shorten("https://example.com/a")
        self.assertEqual(s.expand(code), "https://example.com/a")

    def test_codes_are_distinct(self):
        s = Shortener()
        a = s.shorten("https://example.com/a")
        b = s.shorten("https://example.com/b")
        self.assertNotEqual(a, b)
        self.assertEqual(len(s), 2)

    def test_unknown_code(self):
        s = Shortener()
        with self.assertRaises(UnknownCode):
            s.expand("zzz")


if __name__ == "__main__":
    unittest.main()
