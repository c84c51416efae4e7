// @types/node 20 declares no WebAssembly namespace and the DOM lib would drag in browser globals,
// so declare the small part of the JS API that the core loader and wrappers use.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
  }
  class Instance {
    constructor(module: Module, importObject?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(deltaPages: number): number;
  }
  function validate(bytes: ArrayBufferView | ArrayBuffer): boolean;
}
