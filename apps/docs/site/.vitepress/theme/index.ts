import type { Theme } from 'vitepress';
import DefaultTheme from 'vitepress/theme';
import { h } from 'vue';
import Timeline from './components/Timeline.vue';
import './custom.css';

export default {
  extends: DefaultTheme,
  // The hero's right half: a compact live timeline, @lac/core running in the reader's browser.
  Layout: () =>
    h(DefaultTheme.Layout, null, {
      'home-hero-image': () => h('div', { class: 'lac-hero-timeline' }, [h(Timeline, { compact: true })]),
    }),
  enhanceApp({ app }) {
    app.component('Timeline', Timeline);
  },
} satisfies Theme;
