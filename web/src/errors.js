// The package's errors: one base class, the kinds the Python SDK has (mtvir_decoder.errors), each with a `code`.
export class MtvirError extends Error {
  get name() { return this.constructor.name; }
}
/** The EL breaks the format's rules: bad magic, a CRC, a field beyond its limit, a truncated stream. */
export class FormatError extends MtvirError {}
/** A version this package does not read (EL v1: re-export it, or decode it with the Python SDK). */
export class UnsupportedVersionError extends FormatError {}
/** The EL needs a reference model that was not given, or another one than was given. */
export class ReferenceModelError extends MtvirError {}
/** A frame the EL does not fit: another size, bit depth or sample type, or an index beyond its frame count. */
export class InputMismatchError extends MtvirError {}
/** The runtime failed: ONNX Runtime Web missing, a back end this browser lacks, a failure mid-stream. */
export class RuntimeError extends MtvirError {}
