import { mount } from '@vue/test-utils';
import { describe, expect, it } from 'vitest';
import App from '../src/App.vue';

describe('App', () => {
  it('when mounted, then it names the product', () => {
    const wrapper = mount(App);
    expect(wrapper.find('h1').text()).toBe('PrepMate');
  });
});
