/// <reference types="vite/client" />
declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}

interface ImportMetaEnv {
  /** The server's origin when it is not the one serving the app (see src/config/api.ts). */
  readonly VITE_API_URL?: string;
}
