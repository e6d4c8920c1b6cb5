// Types for node-version.mjs (plain JavaScript, so that it loads before tsx does).
export declare const SUPPORTED_NODE: string;
export declare function nodeVersionProblem(version: string, arch?: string, execPath?: string): string | undefined;
export declare function exitUnlessSupportedNode(): void;
