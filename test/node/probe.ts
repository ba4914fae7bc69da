import { x, type M, type I } from "../../src/client/probe.ts";
const m: M = null as any; const s: string = m.id; const i: I = null as any;
console.log(x, s, i);
