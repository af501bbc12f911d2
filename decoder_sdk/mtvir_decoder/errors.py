"""The decoder SDK's exceptions: every failure a caller can meet is an ``MtvirError``."""


class MtvirError(Exception):
    """Base of every error raised by MTVIR."""


class UnreadableFileError(MtvirError):
    """A file given to the SDK cannot be read at all: missing, a folder, no permission."""


class FormatError(MtvirError):
    """The bytes are not a valid EL: bad magic, truncated, CRC mismatch, inconsistent fields."""


class LimitError(FormatError):
    """A count or length exceeds the hard limits of the spec (a hostile or damaged file)."""


class UnsupportedVersionError(FormatError):
    """The EL's major version is not one this decoder implements."""


class ReferenceModelError(MtvirError):
    """Base of reference-model problems."""


class UnknownReferenceError(ReferenceModelError):
    """The EL is a residue against a reference model that is not installed."""


class ReferenceMismatchError(ReferenceModelError):
    """The reference given does not match the one the EL was coded against."""


class InputMismatchError(MtvirError):
    """The frames given do not match what the EL applies to (size, bit depth, dtype, frame index)."""


class RuntimeProviderError(MtvirError):
    """ONNX Runtime could not build or run the session."""


class MtvirWarning(UserWarning):
    """Issued once when a player falls back to the base layer because the EL cannot be used."""
