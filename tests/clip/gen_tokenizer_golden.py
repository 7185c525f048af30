#!/usr/bin/python3
"""Generates tests/clip/data/tokenizer_golden.txt: a corpus of strings with the
ids of OpenAI CLIP's simple_tokenizer (reimplemented below line for line from
simple_tokenizer.py). The vocabulary is read from COOP_SHARED_DIR (default
../shared relative to the repository) and never copied.
    /usr/bin/python3 tests/clip/gen_tokenizer_golden.py
Needs python3-regex. ftfy: when importable, ftfy.fix_text runs first as in the
reference and strings it changes beyond the documented subset are dropped
(listed on stderr); when not importable (Debian has no python3-ftfy), the
documented subset that coop implements instead is applied (see
docs/tokenizer.md). Output line: hex(UTF-8 text) TAB ids (space separated)."""
import ast
import gzip
import html
import os
import random
import re as stdre
import sys
import unicodedata
from functools import lru_cache

import regex as re

try:
    import ftfy
except ImportError:
    ftfy = None

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHARED = os.environ.get('COOP_SHARED_DIR', os.path.join(ROOT, '..', 'shared'))


# ---- OpenAI simple_tokenizer.py -------------------------------------------
@lru_cache()
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    cs = [chr(n) for n in cs]
    return dict(zip(bs, cs))


def get_pairs(word):
    pairs = set()
    prev_char = word[0]
    for char in word[1:]:
        pairs.add((prev_char, char))
        prev_char = char
    return pairs


LIGATURES = {0x132: 'IJ', 0x133: 'ij', 0x149: 'ʼn', 0x1C4: 'DŽ', 0x1C5: 'Dž', 0x1C6: 'dž',
             0x1C7: 'LJ', 0x1C8: 'Lj', 0x1C9: 'lj', 0x1CA: 'NJ', 0x1CB: 'Nj', 0x1CC: 'nj',
             0x1F1: 'DZ', 0x1F2: 'Dz', 0x1F3: 'dz', 0xFB00: 'ff', 0xFB01: 'fi', 0xFB02: 'fl',
             0xFB03: 'ffi', 0xFB04: 'ffl', 0xFB05: 'ſt', 0xFB06: 'st'}


def ftfy_subset(text):
    """What coop does instead of ftfy.fix_text (docs/tokenizer.md)."""
    text = text.translate(LIGATURES)
    width = {0x3000: ' '}
    for c in range(0xFF01, 0xFFF0):
        alt = unicodedata.normalize('NFKC', chr(c))
        if alt != chr(c):
            width[c] = alt
    text = text.translate(width)
    text = stdre.sub('[\u02bc\u2018-\u201b]', "'", text)
    return stdre.sub('[\u201c-\u201f]', '"', text)


def basic_clean(text, fix):
    text = fix(text)
    text = html.unescape(html.unescape(text))
    return text.strip()


def whitespace_clean(text):
    text = re.sub(r'\s+', ' ', text)
    text = text.strip()
    return text


class SimpleTokenizer(object):
    def __init__(self, bpe_path, fix):
        self.fix = fix
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        merges = gzip.open(bpe_path).read().decode("utf-8").split('\n')
        merges = merges[1:49152-256-2+1]
        merges = [tuple(merge.split()) for merge in merges]
        vocab = list(bytes_to_unicode().values())
        vocab = vocab + [v+'</w>' for v in vocab]
        for merge in merges:
            vocab.append(''.join(merge))
        vocab.extend(['<|startoftext|>', '<|endoftext|>'])
        self.encoder = dict(zip(vocab, range(len(vocab))))
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.cache = {'<|startoftext|>': '<|startoftext|>', '<|endoftext|>': '<|endoftext|>'}
        self.pat = re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", re.IGNORECASE)

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + '</w>',)
        pairs = get_pairs(word)
        if not pairs:
            return token+'</w>'
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float('inf')))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word)-1 and word[i+1] == second:
                    new_word.append(first+second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            new_word = tuple(new_word)
            word = new_word
            if len(word) == 1:
                break
            else:
                pairs = get_pairs(word)
        word = ' '.join(word)
        self.cache[token] = word
        return word

    def encode(self, text):
        bpe_tokens = []
        text = whitespace_clean(basic_clean(text, self.fix)).lower()
        for token in re.findall(self.pat, text):
            token = ''.join(self.byte_encoder[b] for b in token.encode('utf-8'))
            bpe_tokens.extend(self.encoder[bpe_token] for bpe_token in self.bpe(token).split(' '))
        return bpe_tokens


# ---- corpus -----------------------------------------------------------------
def dataset_prompts(path):
    """[(dataset, classes, templates)] parsed from the markdown."""
    text = open(path, encoding='utf-8').read()
    out = []
    for sec in stdre.split(r'^## ', text, flags=stdre.M)[1:]:
        name = sec.split('\n', 1)[0].strip()
        cm = stdre.search(r'classes = (\[.*?\n\])', sec, stdre.S)
        tm = stdre.search(r'templates = (\[.*?\n\])', sec, stdre.S)
        if not cm or not tm:
            continue
        classes = ast.literal_eval(cm.group(1))
        flat = []
        for c in classes:
            flat.extend(c if isinstance(c, list) else [c])
        out.append((name, flat, ast.literal_eval(tm.group(1))))
    return out


EXTRA = [
    "a photo of a cat", "a diagram", "a dog", "Hello, World!", "it's 2024", "",
    "   ", "\t\n", "a  b\t\tc\n\nd", " leading and trailing ",
    "It's we'll they're I'M you've she'd DON'T can't o'clock rock'n'roll",
    "'s 't 're 've 'm 'll 'd ''s ' s", "'S 'T 'RE 'VE 'M 'LL 'D", "'ſ 'ſt ſtraße",
    "Don’t say “hello” ‘quoted’ „low“ ‛odd‟ ʼmodifier", "3.14159 1,000,000 -42 +7 1e10 0x1F",
    "١٢٣ ٤٥٦ ½ ¾ ² ³ Ⅻ ⅷ 〇 一二三", "!!! ??? ... ,,, ;;; ::: --- ___ *** ### @@@ $$$ %%% ^^^",
    "(parens) [brackets] {braces} <angles> |pipes| \\backslash/ `tick` ~tilde~",
    "café naïve résumé façade jalapeño crème brûlée Zürich Ærøskøbing ÅNGSTRÖM",
    "Straße GROSSE İstanbul DİYARBAKIR ıi Iı ǅemal ǈubljana ǋegoš",
    "ΟΔΟΣ Σοφός ΣΟΦΟΣ. ὈΔΥΣΣΕΎΣ Σ ΑΣ' ΑΣ-Β ΣΑ",
    "Москва ЁЛКА Україна ЇЖАК Ґанок Српски ЉУБАВ",
    "東京タワー 北京 서울 日本語のテキスト ｶﾀｶﾅ", "مرحبا بالعالم", "नमस्ते दुनिया", "שלום עולם",
    "emoji 🐱🐶 🏳️‍🌈 👍🏽 ❤️ ✨", "ＡＢＣ ｄｅｆ １２３ ！？ 　wide　space", "ﬁne ﬂour ﬀ ﬃ ﬄ ﬅ ﬆ Ĳssel",
    "&amp; &lt; &gt; &quot; &#39; &#x27; &apos;", "fish &amp;amp; chips", "&amp;lt;b&amp;gt;",
    "&eacute;t&eacute; &Eacute;COLE &ntilde; &uuml;ber &szlig;", "&copy2023 &reg &notit; &notin;",
    "&#0; &#9; &#10; &#13; &#128; &#150; &#159; &#xD800; &#1114112; &#99999999999; &#x110000;",
    "&#65;&#x42;&#X43;&#x64 &#0065 &#; &#x; &# &", "&nbsp;non&nbsp;breaking&#160;space",
    "&unknownentity; &ampersand &lt3 &gtx &AMP; &Amp; &aacute &Aacute",
    "&Sigma;&Omicron;&Phi;&Omicron;&Sigma; &hellip; &mdash; &ndash; &trade; &euro;",
    "& amp; &&amp; &;amp; &#38;amp;", "<|startoftext|>", "<|endoftext|>",
    "hi<|endoftext|>there", "!!<|endoftext|>", "<|ENDOFTEXT|> <|StartOfText|>", "<|ſtartoftext|>",
    "<|endoftext", "a\u00a0b\u2003c\u2028d\u0085e\u000bf\u001cg", "\u200bzero\u200bwidth\u200d",
    "control\x01\x02\x7f chars", "tab\tsep\tvalues", "Kelvin \u212a sign", "ﬀ ＫＥＬＶＩＮ",
    "a" * 300, "word " * 100, "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "pneumonoultramicroscopicsilicovolcanoconiosis " * 3,
    " ".join(str(i) for i in range(100)), "x" * 80 + " " + "y" * 80,
    "a photo of a {}.", "itap of a {}.", "a bad photo of the {}.", "a origami {}.",
    "e.g. i.e. U.S.A. Dr. Mr. Mrs. St. Jr.", "email@example.com http://example.org/path?q=1&r=2",
    "C++ C# F# .NET node.js 3D 4K 1080p 2.5mm 100% 50/50 24/7",
    "#hashtag @mention $100 €50 £20 ¥1000 ₹500", "\u0301combining first, e\u0301 decomposed",
    "ﬁ\u0301 mixed ＡＢＣ&amp;“quotes”", "\ud7ff\ue000\uffff", "\U0001F600\U0001D400\U00020000",
]


def random_strings(rng, n):
    pool = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") * 3 +
            list(" \t\n.,;:!?'\"-_()[]{}<>/\\|@#$%^&*+=~`") +
            list("éèêëàâäôöûüçñßøåæœÀÉÖÜÇÑΣσςαβγδΩωДджЯяЁё中文日本한국🐱½²٣") +
            ["&amp;", "&lt;", "&#39;", "&eacute;", "'s", "'ll", "’", "“", "ﬁ", "Ａ", "\u00a0"])
    out = []
    for _ in range(n):
        k = rng.randint(1, 40)
        out.append(''.join(rng.choice(pool) for _ in range(k)))
    return out


def main():
    vocab = os.path.join(SHARED, 'clip', 'bpe_simple_vocab_16e6.txt.gz')
    prompts = os.path.join(SHARED, 'clip', 'clip-dataset-prompts.md')
    tok = SimpleTokenizer(vocab, ftfy.fix_text if ftfy else ftfy_subset)
    sub = SimpleTokenizer(vocab, ftfy_subset)
    corpus, seen = [], set()

    def add(s):
        if s not in seen:
            seen.add(s)
            corpus.append(s)

    for name, classes, templates in dataset_prompts(prompts):
        for i, c in enumerate(classes):  # every class name, in a rotating template
            add(templates[i % len(templates)].format(c))
            add(c)
        for t in templates:  # every template
            add(t.format(classes[0]))
    for s in EXTRA:
        add(s)
    for s in random_strings(random.Random(1234), 600):
        add(s)
    dropped = 0
    lines = []
    for s in corpus:
        ids = tok.encode(s)
        if ftfy and ids != sub.encode(s):
            dropped += 1
            print(f"dropped (ftfy changes it beyond the subset): {s!r}", file=sys.stderr)
            continue
        lines.append(s.encode('utf-8', 'surrogatepass').hex() + '\t' +
                     ' '.join(str(i) for i in ids))
    out = os.path.join(HERE, 'data', 'tokenizer_golden.txt')
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, 'w') as f:
        f.write(f"# coop tokenizer golden v1: {len(lines)} strings; reference = OpenAI "
                f"simple_tokenizer with {'ftfy ' + ftfy.__version__ if ftfy else 'the ftfy subset'}"
                f"; regex {re.__version__}; python {sys.version.split()[0]}\n")
        f.write('\n'.join(lines) + '\n')
    print(f"{len(lines)} strings written to {out}, {dropped} dropped", file=sys.stderr)


if __name__ == '__main__':
    main()
