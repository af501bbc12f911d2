// Drawing decoded planes on a canvas with WebGL2: Y, U, V as textures, BT.601 limited range to RGB in the fragment
// shader; the BL left of the split and the enhanced frame right of it (split 0: all enhanced, 1: all BL).
const VERTEX = `#version 300 es
in vec2 p; out vec2 uv;
void main() { uv = vec2(p.x * 0.5 + 0.5, 0.5 - p.y * 0.5); gl_Position = vec4(p, 0.0, 1.0); }`;
const FRAGMENT = `#version 300 es
precision highp float;
in vec2 uv; out vec4 colour;
uniform sampler2D y0, u0, v0, y1, u1, v1;
uniform float split, texel;
vec3 rgb(float y, float u, float v) {
  y = (y - 16.0 / 255.0) * 255.0 / 219.0; u = (u - 128.0 / 255.0) * 255.0 / 224.0; v = (v - 128.0 / 255.0) * 255.0 / 224.0;
  return clamp(vec3(y + 1.402 * v, y - 0.344136 * u - 0.714136 * v, y + 1.772 * u), 0.0, 1.0);
}
void main() {
  bool bl = uv.x < split;
  vec3 c = bl ? rgb(texture(y0, uv).r, texture(u0, uv).r, texture(v0, uv).r)
              : rgb(texture(y1, uv).r, texture(u1, uv).r, texture(v1, uv).r);
  if (abs(uv.x - split) < texel && split > 0.0 && split < 1.0) c = vec3(1.0);
  colour = vec4(c, 1.0);
}`;

export class Renderer {
  constructor(canvas) {
    const gl = canvas.getContext("webgl2");
    if (!gl) throw new Error("WebGL2 is not available");
    this.gl = gl;
    this.canvas = canvas;
    const program = gl.createProgram();
    for (const [type, source] of [[gl.VERTEX_SHADER, VERTEX], [gl.FRAGMENT_SHADER, FRAGMENT]]) {
      const shader = gl.createShader(type);
      gl.shaderSource(shader, source);
      gl.compileShader(shader);
      if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(shader));
      gl.attachShader(program, shader);
    }
    gl.linkProgram(program);
    gl.useProgram(program);
    this.program = program;
    gl.bindBuffer(gl.ARRAY_BUFFER, gl.createBuffer());
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    const at = gl.getAttribLocation(program, "p");
    gl.enableVertexAttribArray(at);
    gl.vertexAttribPointer(at, 2, gl.FLOAT, false, 0, 0);
    this.textures = ["y0", "u0", "v0", "y1", "u1", "v1"].map((name, unit) => {
      const t = gl.createTexture();
      gl.activeTexture(gl.TEXTURE0 + unit);
      gl.bindTexture(gl.TEXTURE_2D, t);
      for (const [k, v] of [[gl.TEXTURE_MIN_FILTER, gl.LINEAR], [gl.TEXTURE_MAG_FILTER, gl.LINEAR],
        [gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE], [gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE]]) gl.texParameteri(gl.TEXTURE_2D, k, v);
      gl.uniform1i(gl.getUniformLocation(program, name), unit);
      return t;
    });
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
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
    gl.viewport(0, 0, width, height);
    [...bl, ...el].forEach((plane, k) => {
      const w = k % 3 ? Math.ceil(width / 2) : width, h = k % 3 ? Math.ceil(height / 2) : height;
      const bytes = depth > 8 ? Uint8Array.from(plane, (v) => v >> (depth - 8)) : plane;
      gl.activeTexture(gl.TEXTURE0 + k);
      gl.bindTexture(gl.TEXTURE_2D, this.textures[k]);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.R8, w, h, 0, gl.RED, gl.UNSIGNED_BYTE, bytes);
    });
    gl.uniform1f(gl.getUniformLocation(this.program, "split"), split);
    gl.uniform1f(gl.getUniformLocation(this.program, "texel"), 0.75 / width);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
  }
}
