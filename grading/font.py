"""python -m grading.font: rebuild llmlab/fonts/, the Chinese font the plots use on every student machine.

Why ship a font: matplotlib finds a system font with Chinese glyphs only if the OS has one (many Linux
installs do not; macOS and Windows name theirs differently) and if its font cache was built after the font
was installed. A font file registered by path (llmlab.plotting) depends on neither.

Why this font: Noto Sans CJK SC (Google and Adobe) is under the SIL Open Font License 1.1, which allows
subsetting and redistribution with the license beside it; its "Source" name is reserved, "Noto" is not.
The full face is 16 MB, so it is subset to what the course draws: every character of the notebooks, the
llmlab package and the shipped tokenizer's vocabulary, plus ASCII, Latin-1, common punctuation and the 3755
most common Chinese characters (GB 2312 level 1) for what students write on their own plots. Run this after
a notebook gains new characters (a test fails until then); it needs Debian's fonts-noto-cjk.
"""
import json
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

from grading.sandbox import ROOT

SYSTEM_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")   # Debian's fonts-noto-cjk
SOURCE_FAMILY = "Noto Sans CJK SC"
FAMILY = "Noto Sans CJK SC llmlab"       # a name of its own, so matplotlib never confuses it with a system copy
FONT_DIR = ROOT / "llmlab" / "fonts"
FONT_FILE = FONT_DIR / "NotoSansCJKsc-llmlab.otf"
LICENSE_FILE = FONT_DIR / "OFL.txt"

ALWAYS = "".join(chr(c) for c in [*range(0x20, 0x7F), *range(0xA0, 0x100), *range(0x2010, 0x2027),
                                  *range(0x3000, 0x3019), *range(0xFF01, 0xFF5F)]) + "−×÷→←↑↓≈≤≥…▁"


def gb2312_level1() -> str:
    """The 3755 most common Chinese characters: GB 2312 rows 16-55."""
    return "".join(bytes([row, cell]).decode("gb2312", errors="ignore")
                   for row in range(0xB0, 0xD8) for cell in range(0xA1, 0xFF))


def course_text(root: Path = ROOT) -> str:
    """Every character the course may draw: the notebooks, the package's strings, the tokenizer's vocabulary."""
    parts = []
    for notebook in sorted((root / "solutions" / "notebooks").glob("*.ipynb")):
        parts += ["".join(cell["source"]) for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]]
    for module in sorted([*(root / "llmlab").glob("*.py"), *(root / "solutions" / "llmlab").glob("*.py")]):
        parts.append(module.read_text(encoding="utf-8"))
    tokenizer = json.loads((root / "llmlab" / "checkpoints" / "tiny-zh" / "tokenizer.json").read_text(encoding="utf-8"))
    parts += list(tokenizer["model"]["vocab"])
    return "".join(parts)


def needed_characters(root: Path = ROOT) -> set[str]:
    return {c for c in course_text(root) + ALWAYS + gb2312_level1() if c.isprintable()}


def source_face():
    for face in TTCollection(str(SYSTEM_FONT)).fonts:
        if face["name"].getDebugName(1) == SOURCE_FAMILY:
            return face
    raise RuntimeError(f"{SYSTEM_FONT} holds no {SOURCE_FAMILY!r} face")


def build():
    if not SYSTEM_FONT.exists():
        sys.exit(f"{SYSTEM_FONT} is missing: install Debian's fonts-noto-cjk")
    face = source_face()
    options = subset.Options()
    options.layout_features = ["*"]          # keep vertical/proportional forms that CJK text layout may ask for
    options.name_IDs = ["*"]                 # keep the copyright and license notices
    options.hinting = False                  # matplotlib renders unhinted well; hints double the size
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in needed_characters()))
    subsetter.subset(face)
    rename(face)
    face.recalcTimestamp = False             # the same characters give the same file
    FONT_DIR.mkdir(exist_ok=True)
    face.save(str(FONT_FILE))
    LICENSE_FILE.write_text(license_text(face), encoding="utf-8")
    print(f"wrote {FONT_FILE.relative_to(ROOT)} ({FONT_FILE.stat().st_size / 2**20:.2f} MiB, "
          f"{len(face.getBestCmap())} characters) and {LICENSE_FILE.relative_to(ROOT)}")


def rename(face):
    names = face["name"]
    for record in list(names.names):
        if record.nameID in (1, 16):
            names.setName(FAMILY, record.nameID, record.platformID, record.platEncID, record.langID)
        elif record.nameID in (3, 4):
            names.setName(f"{FAMILY} Regular", record.nameID, record.platformID, record.platEncID, record.langID)
        elif record.nameID == 6:
            names.setName(FAMILY.replace(" ", "") + "-Regular", record.nameID, record.platformID,
                          record.platEncID, record.langID)
    face["CFF "].cff.fontNames = [FAMILY.replace(" ", "") + "-Regular"]


def license_text(face) -> str:
    notice = face["name"].getDebugName(0)
    return (f"{FONT_FILE.name}: a subset of {SOURCE_FAMILY} Regular (Noto CJK, https://github.com/notofonts/noto-cjk),\n"
            f"made by grading/font.py; renamed {FAMILY!r}. Modified Version under the same license.\n\n"
            f"{notice}\n\n" + OFL)


OFL = """\
This Font Software is licensed under the SIL Open Font License, Version 1.1.
This license is copied below, and is also available with a FAQ at: https://openfontlicense.org

-----------------------------------------------------------
SIL OPEN FONT LICENSE Version 1.1 - 26 February 2007
-----------------------------------------------------------

PREAMBLE
The goals of the Open Font License (OFL) are to stimulate worldwide development of collaborative font projects,
to support the font creation efforts of academic and linguistic communities, and to provide a free and open
framework in which fonts may be shared and improved in partnership with others.

The OFL allows the licensed fonts to be used, studied, modified and redistributed freely as long as they are not
sold by themselves. The fonts, including any derivative works, can be bundled, embedded, redistributed and/or
sold with any software provided that any reserved names are not used by derivative works. The fonts and
derivatives, however, cannot be released under any other type of license. The requirement for fonts to remain
under this license does not apply to any document created using the fonts or their derivatives.

DEFINITIONS
"Font Software" refers to the set of files released by the Copyright Holder(s) under this license and clearly
marked as such. This may include source files, build scripts and documentation.

"Reserved Font Name" refers to any names specified as such after the copyright statement(s).

"Original Version" refers to the collection of Font Software components as distributed by the Copyright
Holder(s).

"Modified Version" refers to any derivative made by adding to, deleting, or substituting -- in part or in
whole -- any of the components of the Original Version, by changing formats or by porting the Font Software to a
new environment.

"Author" refers to any designer, engineer, programmer, technical writer or other person who contributed to the
Font Software.

PERMISSION & CONDITIONS
Permission is hereby granted, free of charge, to any person obtaining a copy of the Font Software, to use,
study, copy, merge, embed, modify, redistribute, and sell modified and unmodified copies of the Font Software,
subject to the following conditions:

1) Neither the Font Software nor any of its individual components, in Original or Modified Versions, may be sold
by itself.

2) Original or Modified Versions of the Font Software may be bundled, redistributed and/or sold with any
software, provided that each copy contains the above copyright notice and this license. These can be included
either as stand-alone text files, human-readable headers or in the appropriate machine-readable metadata fields
within text or binary files as long as those fields can be easily viewed by the user.

3) No Modified Version of the Font Software may use the Reserved Font Name(s) unless explicit written permission
is granted by the corresponding Copyright Holder. This restriction only applies to the primary font name as
presented to the users.

4) The name(s) of the Copyright Holder(s) or the Author(s) of the Font Software shall not be used to promote,
endorse or advertise any Modified Version, except to acknowledge the contribution(s) of the Copyright Holder(s)
and the Author(s) or with their explicit written permission.

5) The Font Software, modified or unmodified, in part or in whole, must be distributed entirely under this
license, and must not be distributed under any other license. The requirement for fonts to remain under this
license does not apply to any document created using the Font Software.

TERMINATION
This license becomes null and void if any of the above conditions are not met.

DISCLAIMER
THE FONT SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT
LIMITED TO ANY WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT OF COPYRIGHT,
PATENT, TRADEMARK, OR OTHER RIGHT. IN NO EVENT SHALL THE COPYRIGHT HOLDER BE LIABLE FOR ANY CLAIM, DAMAGES OR
OTHER LIABILITY, INCLUDING ANY GENERAL, SPECIAL, INDIRECT, INCIDENTAL, OR CONSEQUENTIAL DAMAGES, WHETHER IN AN
ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF THE USE OR INABILITY TO USE THE FONT SOFTWARE OR
FROM OTHER DEALINGS IN THE FONT SOFTWARE.
"""

if __name__ == "__main__":
    build()
