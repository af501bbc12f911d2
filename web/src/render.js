// Drawing decoded planes on a canvas with WebGL2: Y, U, V as textures, BT.601 limited range to RGB in the fragment
// shader; the BL left of the split and the enhanced frame right of it (split 0: all enhanced, 1: all BL). Only the
// planes a view shows are uploaded, into textures allocated once per size (without a GPU, as in headless Chromium's
// SwiftShader, drawing cost a 720p frame 30 ms when all six planes were uploaded and sampled).
const VERTEX = `#version 300 es
in vec2 p; out vec2 uv;
void main() { uv = vec2(p.x * 0.5 + 0.5, 0.5 - p.y * 0.5); gl_Position = vec4(p, 0.0, 1.0); }`;
const RGB = `#version 300 es
precision highp float;
in vec2 uv; out vec4 colour;
vec3 rgb(float y, float u, float v) {
  y = (y - 16.0 / 255.0) * 255.0 / 219.0; u = (u - 128.0 / 255.0) * 255.0 / 224.0; v = (v - 128.0 / 255.0) * 255.0 / 224.0;
  return clamp(vec3(y + 1.402 * v, y - 0.344136 * u - 0.714136 * v, y + 1.772 * u), 0.0, 1.0);
}
// the canvas has the frame's size: luma sample for sample (chroma is interpolated up)
float luma(sampler2D t) { return texelFetch(t, ivec2(gl_FragCoord.x, float(textureSize(t, 0).y) - gl_FragCoord.y), 0).r; }`;
const ONE = `${RGB}
uniform sampler2D y0, u0, v0;
void main() { colour = vec4(rgb(luma(y0), texture(u0, uv).r, texture(v0, uv).r), 1.0); }`;
const SPLIT = `${RGB}
uniform sampler2D y0, u0, v0, y1, u1, v1;
uniform float split, texel;
void main() {
  vec3 c = uv.x < split ? rgb(luma(y0), texture(u0, uv).r, texture(v0, uv).r)
                        : rgb(luma(y1), texture(u1, uv).r, texture(v1, uv).r);
  if (abs(uv.x - split) < texel) c = vec3(1.0);
  colour = vec4(c, 1.0);
}`;
const NAMES = ["y0", "u0", "v0", "y1", "u1", "v1"];

export class Renderer {
  constructor(canvas) {
    // no multisampling, alpha, depth or stencil: a video needs none, and without a GPU each costs a pass over the frame
    const gl = canvas.getContext("webgl2", { antialias: false, alpha: false, depth: false, stencil: false });
    if (!gl) throw new Error("WebGL2 is not available");
    this.gl = gl;
    this.canvas = canvas;
    gl.bindBuffer(gl.ARRAY_BUFFER, gl.createBuffer());
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    this.one = this.program(ONE, 3);
    this.split = this.program(SPLIT, 6);
    this.textures = [];
    this.size = "";
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
  }

  program(fragment, samplers) {
    const gl = this.gl, program = gl.createProgram();
    for (const [type, source] of [[gl.VERTEX_SHADER, VERTEX], [gl.FRAGMENT_SHADER, fragment]]) {
      const shader = gl.createShader(type);
      gl.shaderSource(shader, source);
      gl.compileShader(shader);
      if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(shader));
      gl.attachShader(program, shader);
    }
    gl.linkProgram(program);
    gl.useProgram(program);
    const at = gl.getAttribLocation(program, "p");
    gl.enableVertexAttribArray(at);
    gl.vertexAttribPointer(at, 2, gl.FLOAT, false, 0, 0);
    for (let unit = 0; unit < samplers; unit++) gl.uniform1i(gl.getUniformLocation(program, NAMES[unit]), unit);
    return { program, split: gl.getUniformLocation(program, "split"), texel: gl.getUniformLocation(program, "texel") };
  }

  /** Six textures (BL's Y, U, V on units 0-2, the enhanced frame's on 3-5) of a frame size, made once per size. */
  allocate(width, height) {
    const gl = this.gl;
    for (const t of this.textures) gl.deleteTexture(t);
    this.textures = NAMES.map((_, k) => {
      const t = gl.createTexture(), w = k % 3 ? Math.ceil(width / 2) : width, h = k % 3 ? Math.ceil(height / 2) : height;
      gl.activeTexture(gl.TEXTURE0 + k);
      gl.bindTexture(gl.TEXTURE_2D, t);
      gl.texStorage2D(gl.TEXTURE_2D, 1, gl.R8, w, h);
      for (const [key, v] of [[gl.TEXTURE_MIN_FILTER, gl.LINEAR], [gl.TEXTURE_MAG_FILTER, gl.LINEAR],
        [gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE], [gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE]]) gl.texParameteri(gl.TEXTURE_2D, key, v);
      return t;
    });
  }

  /** Draws a frame: ``bl`` and ``el`` are [Y, U, V] sample arrays (8-bit, or 10-bit shown through 8). */
  draw(width, height, depth, bl, el, split) {
    const gl = this.gl;
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
      const zoom = Math.max(1, Math.floor(640 / width)); // small videos shown at a whole multiple, sample for sample
      this.canvas.style.width = `${width * zoom}px`;
      this.canvas.style.imageRendering = zoom > 1 ? "pixelated" : "auto";
    }
    if (this.size !== `${width}x${height}`) {
      this.allocate(width, height);
      this.size = `${width}x${height}`;
    }
    gl.viewport(0, 0, width, height);
    const sets = split <= 0 ? [el] : split >= 1 ? [bl] : [bl, el];
    sets.flat().forEach((plane, k) => {
      const w = k % 3 ? Math.ceil(width / 2) : width, h = k % 3 ? Math.ceil(height / 2) : height;
      const bytes = depth > 8 ? Uint8Array.from(plane, (v) => v >> (depth - 8)) : plane;
      gl.activeTexture(gl.TEXTURE0 + k);
      gl.bindTexture(gl.TEXTURE_2D, this.textures[k]);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, w, h, gl.RED, gl.UNSIGNED_BYTE, bytes);
    });
    const view = sets.length === 1 ? this.one : this.split;
    gl.useProgram(view.program);
    if (view === this.split) {
      gl.uniform1f(view.split, split);
      gl.uniform1f(view.texel, 0.75 / width);
    }
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
  }

  /** The canvas as drawn, RGBA rows from the top (read in the task that drew it: the buffer is not preserved). */
  read() {
    const gl = this.gl, { width: w, height: h } = this.canvas, flipped = new Uint8Array(w * h * 4), rows = new Uint8Array(w * h * 4);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, flipped);
    for (let y = 0; y < h; y++) rows.set(flipped.subarray((h - 1 - y) * w * 4, (h - y) * w * 4), y * w * 4);
    return rows;
  }
}
