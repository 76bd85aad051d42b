import { createPinia } from 'pinia';
import { createApp } from 'vue';
import App from './App.vue';
import { createHashRouter } from './router';
import { createBrowserSession, readBrowserView } from './sdk/browser-session';
import { sessionFactoryKey, storedViewReaderKey } from './sdk/port';
import { registerServiceWorker } from './sw-register';
import './styles.css';

// The composition root: the real SDK and the real router; tests mount with fakes instead.
createApp(App)
  .provide(sessionFactoryKey, createBrowserSession)
  .provide(storedViewReaderKey, readBrowserView)
  .use(createPinia())
  .use(createHashRouter())
  .mount('#app');

registerServiceWorker();
